"""The GitHub client both adapters share (:class:`~shared.adapters.github.HttpxGitHub` reads,
:class:`~shared.adapters.github_write.HttpxGitHubWriter` writes): headers, auth, the ETag
cache, pagination and the classification of GitHub's failures (rules in
:mod:`shared.adapters.github`'s docstring, each from GitHub's REST docs).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any, Self

import httpx
from pydantic import ValidationError

from shared.adapters.github_auth import GitHubAppAuth
from shared.adapters.github_etags import CachedAnswer, EtagCache, PostgresEtagCache
from shared.adapters.http import (
    body_json,
    error_message,
    raise_for_status,
    retry_after_seconds,
    send,
)
from shared.db import Database
from shared.errors import RateLimitedError, UpstreamError, UpstreamNotFoundError
from shared.settings import Settings

API_VERSION = "2022-11-28"
PER_PAGE = 100
SECONDARY_LIMIT_WAIT_S = 60.0

SERVICE = "GitHub"

# ``/repos/{owner}/{name}`` and the sub-resources whose 404 means the run's object is gone.
_RESOURCE_PATH = re.compile(
    r"/repos/(?P<repo>[^/]+/[^/]+?)(?:/(?P<kind>pulls|commits|compare)/(?P<ref>[^/]+).*)?/?$"
)
_RESOURCE_KINDS = {
    None: "repository",
    "pulls": "pull_request",
    "commits": "commit",
    "compare": "commit",
}
GONE = (404, 410)


def not_found(resp: httpx.Response) -> UpstreamNotFoundError | None:
    """The typed "not found" of a 404/410 on a repository, pull request or commit path."""
    if resp.status_code not in GONE:
        return None
    match = _RESOURCE_PATH.search(resp.request.url.path)
    if match is None:
        return None
    resource = _RESOURCE_KINDS[match["kind"]]
    ref: str | int | None = match["ref"]
    if resource == "pull_request" and ref is not None and str(ref).isdigit():
        ref = int(ref)
    what = {
        "repository": f"repository {match['repo']}",
        "pull_request": f"pull request {match['repo']}#{ref}",
        "commit": f"commit {ref} of {match['repo']}",
    }[resource]
    return UpstreamNotFoundError(
        f"GitHub answered {resp.status_code} for {what} ({error_message(resp)}): deleted, or the "
        "repository was renamed, made private or is not reachable with this credential",
        resource=resource,
        repository=match["repo"],
        ref=ref,
        service=SERVICE,
        upstream_status=resp.status_code,
    )


def graphql_not_found(errors: Any, repo: str, number: int) -> UpstreamNotFoundError | None:
    """A GraphQL ``NOT_FOUND`` error on ``repository`` or ``repository.pullRequest``."""
    if not isinstance(errors, list):
        return None
    for error in errors:
        if not isinstance(error, dict) or error.get("type") != "NOT_FOUND":
            continue
        path = error.get("path") or []
        resource = "pull_request" if "pullRequest" in path else "repository"
        return UpstreamNotFoundError(
            f"GitHub GraphQL: {error.get('message') or 'NOT_FOUND'}",
            resource=resource,
            repository=repo,
            ref=number if resource == "pull_request" else None,
            service=SERVICE,
            upstream_status=200,
        )
    return None


def rate_limited(resp: httpx.Response) -> RateLimitedError | None:
    if resp.status_code not in (403, 429):
        return None
    retry = retry_after_seconds(resp.headers)
    limited = (
        retry is not None
        or resp.headers.get("x-ratelimit-remaining") == "0"
        or resp.status_code == 429
    )
    if not limited:
        return None
    return RateLimitedError(
        f"GitHub rate limit: {error_message(resp)}",
        retry_after=SECONDARY_LIMIT_WAIT_S if retry is None else retry,
        service=SERVICE,
        upstream_status=resp.status_code,
    )


class GitHubClient:
    """GitHub's REST and GraphQL plumbing over httpx, shared by the read and write adapters.

    Args:
        api_url: ``https://api.github.com`` or a GitHub Enterprise/fake base URL.
        token: a token (PAT or installation token); None sends no ``Authorization``.
        timeout_s: per-request timeout in seconds.
        transport: an httpx transport (tests); None uses the network.
        auth: an httpx auth (a :class:`GitHubAppAuth`) used instead of ``token``.
        etag_cache: where conditional-request validators live; None sends plain GETs.

    Attributes:
        requests: requests sent by this adapter (304s included).
        not_modified: how many of them GitHub answered 304 (no rate limit spent).
        graphql_points: GraphQL rate-limit points spent (the sum of ``rateLimit.cost``).
    """

    def __init__(
        self,
        api_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        auth: GitHubAppAuth | None = None,
        etag_cache: EtagCache | None = None,
    ) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "codex-judge",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.api_url = api_url.rstrip("/")
        self._client = httpx.Client(
            headers=headers, timeout=timeout_s, transport=transport, auth=auth
        )
        self._auth = auth
        self._etags = etag_cache
        # Cached answers are keyed by credential: another token may see other repositories.
        if auth is not None:
            self._credential = auth.fingerprint()
        elif token:
            self._credential = "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
        else:
            self._credential = "anonymous"
        self.requests = 0
        self.graphql_points = 0
        self.not_modified = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        db: Database | None = None,
    ) -> Self:
        """Build from ``github_api_url``, ``github_token`` (or ``github_app_id``,
        ``github_app_private_key`` and ``github_app_installation_id``: App auth wins when all
        three are set), ``github_timeout_s`` and, with ``db`` and ``github_etag_cache``, the
        Postgres ETag cache."""
        auth = GitHubAppAuth.from_settings(settings, transport)
        token = None
        if auth is None and settings.github_token is not None:
            token = settings.github_token.get_secret_value()
        cache = PostgresEtagCache(db) if db is not None and settings.github_etag_cache else None
        return cls(
            settings.github_api_url,
            token,
            timeout_s=settings.github_timeout_s,
            transport=transport,
            auth=auth,
            etag_cache=cache,
        )

    def close(self) -> None:
        """Close the connection pools."""
        self._client.close()
        if self._auth is not None:
            self._auth.close()

    # --- plumbing ---

    def _request(
        self, method: str, url: str, *, allow_404: bool = False, **kwargs: Any
    ) -> httpx.Response:
        self.requests += 1
        resp = send(self._client, method, url, service=SERVICE, **kwargs)
        limited = rate_limited(resp)
        if limited is not None:
            raise limited
        if resp.status_code in GONE and allow_404:  # the caller answers None (a value)
            return resp
        gone = not_found(resp)
        if gone is not None:
            raise gone
        raise_for_status(
            resp,
            service=SERVICE,
            default_retry_after=SECONDARY_LIMIT_WAIT_S,
            unauthorized_is_transient=True,
        )
        return resp

    def _json(self, resp: httpx.Response) -> Any:
        body = body_json(resp)
        if body is None:
            raise UpstreamError(
                f"GitHub answered {resp.status_code} with a body that is not JSON ({resp.url})",
                service=SERVICE,
            )
        return body

    def _get(
        self, url: str, *, params: dict[str, Any] | None = None, allow_404: bool = False
    ) -> httpx.Response:
        """A GET, conditional when an ETag cache is configured; a 304 is answered from it."""
        if self._etags is None:
            return self._request("GET", url, params=params, allow_404=allow_404)
        key = str(self._client.build_request("GET", url, params=params).url)
        cached = self._etags.get(key, self._credential)
        headers: dict[str, str] = {}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        resp = self._request("GET", key, headers=headers, allow_404=allow_404)
        if resp.status_code == 304 and cached is not None:
            self.not_modified += 1
            replay = {"content-type": "application/json"}
            if cached.link:
                replay["link"] = cached.link
            return httpx.Response(
                200, headers=replay, content=cached.body.encode(), request=resp.request
            )
        if resp.status_code == 200 and (
            resp.headers.get("etag") or resp.headers.get("last-modified")
        ):
            self._etags.put(
                key,
                self._credential,
                CachedAnswer(
                    etag=resp.headers.get("etag"),
                    last_modified=resp.headers.get("last-modified"),
                    link=resp.headers.get("link"),
                    body=resp.text,
                ),
            )
        return resp

    def _pages(self, path: str) -> Iterator[Any]:
        """Each page's JSON body of ``path``, following ``Link: rel="next"``."""
        url: str | None = f"{self.api_url}{path}"
        params: dict[str, Any] | None = {"per_page": PER_PAGE}
        while url:
            resp = self._get(url, params=params)
            yield self._json(resp)
            url = resp.links.get("next", {}).get("url")
            params = None  # the next link already carries every query parameter

    def _list(self, path: str, key: str | None = None) -> list[Any]:
        items: list[Any] = []
        for body in self._pages(path):
            page = body.get(key) if key and isinstance(body, dict) else body
            if not isinstance(page, list):
                raise UpstreamError(
                    f"GitHub answered {path} with an unexpected shape: "
                    f"expected a list{f' under {key!r}' if key else ''}",
                    service=SERVICE,
                )
            items.extend(page)
        return items

    def _parse(self, model: Any, raw: Any, what: str) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise UpstreamError(
                f"GitHub {what} does not match its documented shape: {exc.errors()[0]['loc']}",
                service=SERVICE,
            ) from exc

    def _graphql_url(self) -> str:
        # GitHub Enterprise serves REST under /api/v3 and GraphQL at /api/graphql.
        if self.api_url.endswith("/api/v3"):
            return self.api_url[: -len("/v3")] + "/graphql"
        return f"{self.api_url}/graphql"
