"""GitHub App authentication: an installation access token, minted from a JWT and cached.

Rules from GitHub's docs ("Generating a JSON Web Token (JWT) for a GitHub App",
"Authenticating as a GitHub App installation"):

* the JWT is signed RS256 with the App's private key; ``iss`` = the App id, ``iat`` 60 s in
  the past (clock drift), ``exp`` at most 10 minutes after ``iat`` (we use 9);
* ``POST /app/installations/{installation_id}/access_tokens`` with ``Authorization: Bearer
  <JWT>`` answers 201 ``{"token", "expires_at"}``; the token lives one hour;
* the token is reused until shortly before ``expires_at`` (:data:`REFRESH_MARGIN_S`), then a
  new one is minted. The cache is per process (a token is a credential, not state: losing it
  costs one request), guarded by a lock so concurrent requests mint it once.

Errors: minting goes through the shared HTTP mapping (:mod:`shared.adapters.http`): a 5xx or a
401 is :class:`~shared.errors.UpstreamError` (503), a rate limit ``RateLimitedError``; a 404 (the
App was uninstalled) is :class:`~shared.errors.UpstreamNotFoundError` for the ``installation``,
which the gates record as the run's ``needs_human`` reason ``installation_not_found``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from datetime import datetime

import httpx
import jwt

from shared.adapters.http import body_json, raise_for_status, send
from shared.errors import UpstreamError, UpstreamNotFoundError
from shared.settings import Settings

REFRESH_MARGIN_S = 300.0
JWT_BACKDATE_S = 60
JWT_LIFETIME_S = 540
SERVICE = "GitHub"


def app_jwt(app_id: int, private_key: str, *, now: float | None = None) -> str:
    """The App's JWT (RS256): ``{"iat": now-60, "exp": now+540, "iss": "<app_id>"}``.

    Raises:
        ValueError: ``private_key`` is not a PEM RSA private key.
    """
    issued = int(time.time() if now is None else now) - JWT_BACKDATE_S
    claims = {"iat": issued, "exp": issued + JWT_BACKDATE_S + JWT_LIFETIME_S, "iss": str(app_id)}
    try:
        return jwt.encode(claims, private_key, algorithm="RS256")
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise ValueError(f"github_app_private_key is not a PEM RSA private key: {exc}") from exc


class GitHubAppAuth(httpx.Auth):
    """httpx auth that sends ``Authorization: Bearer <installation token>``.

    Args:
        api_url: the REST root (``https://api.github.com``).
        app_id: the App id.
        private_key: the App's PEM private key.
        installation_id: the installation to act as.
        transport: an httpx transport (tests); None uses the network.
        clock: seconds since the epoch (tests).
    """

    def __init__(
        self,
        api_url: str,
        *,
        app_id: int,
        private_key: str,
        installation_id: int,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = f"{api_url.rstrip('/')}/app/installations/{installation_id}/access_tokens"
        self._app_id = app_id
        self._installation_id = installation_id
        self._key = private_key
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._client = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            headers={"Accept": "application/vnd.github+json", "User-Agent": "codex-judge"},
        )
        self.minted = 0  # installation tokens minted by this process (observability, tests)

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> GitHubAppAuth | None:
        """The App auth of ``github_app_id``, ``github_app_private_key`` and
        ``github_app_installation_id`` (with ``github_api_url`` and ``github_timeout_s``); None
        unless all three are set (then the caller falls back to ``github_token``)."""
        if (
            settings.github_app_id is None
            or settings.github_app_private_key is None
            or settings.github_app_installation_id is None
        ):
            return None
        return cls(
            settings.github_api_url,
            app_id=settings.github_app_id,
            private_key=settings.github_app_private_key.get_secret_value(),
            installation_id=settings.github_app_installation_id,
            timeout_s=settings.github_timeout_s,
            transport=transport,
        )

    def token(self) -> str:
        """The cached installation token, minted anew when within the refresh margin.

        Raises:
            UpstreamError: GitHub did not mint a token (5xx, 401, a body without ``token``).
            RateLimitedError: GitHub rate-limited the mint request.
        """
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_S:
                self._token, self._expires_at = self._mint()
                self.minted += 1
            return self._token

    def _mint(self) -> tuple[str, float]:
        bearer = app_jwt(self._app_id, self._key, now=self._clock())
        resp = send(
            self._client,
            "POST",
            self._url,
            service=SERVICE,
            headers={"Authorization": f"Bearer {bearer}"},
        )
        if resp.status_code == 404:  # the app was uninstalled: every run it would judge is stuck
            raise UpstreamNotFoundError(
                f"GitHub App installation {self._installation_id} does not exist (uninstalled?)",
                resource="installation",
                repository="",
                ref=self._installation_id,
            )
        raise_for_status(resp, service=SERVICE, unauthorized_is_transient=True)
        body = body_json(resp)
        if not isinstance(body, dict) or not isinstance(body.get("token"), str):
            raise UpstreamError("GitHub access_tokens answer lacks 'token'", service=SERVICE)
        try:
            expires = datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))
            expires_at = expires.timestamp()
        except (KeyError, ValueError):
            expires_at = self._clock() + 3600.0  # GitHub documents a one-hour lifetime
        return body["token"], expires_at

    def fingerprint(self) -> str:
        """Names the credential in caches without revealing it: ``app:<id>/<installation>``."""
        return f"app:{self._app_id}/{self._installation_id}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the installation token to ``request`` (httpx ``Auth`` protocol)."""
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request

    def close(self) -> None:
        """Close the connection pool used for minting."""
        self._client.close()
