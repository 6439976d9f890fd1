"""Who may call the api: bearer tokens with a scope, and the UI's session cookie (issue 14;
DESIGN §11).

Tokens come from settings (``api_read_tokens``, ``api_operator_tokens``: comma-separated, from
the environment or the mounted Secret's files), several at once so one can be rotated in before
the old one is removed. An entry ``name:token`` records ``name`` as the actor of what the token
does; a bare token is recorded as ``token-<first 8 hex of its SHA-256>``. Tokens are compared in
constant time (:func:`hmac.compare_digest` over SHA-256 digests, every configured token compared
on every request) and never logged; a missing or wrong token is a 401 with no detail.

The UI's session cookie (HttpOnly, SameSite=Strict, Secure behind HTTPS) is signed with
``api_session_secret`` (else a key derived from the configured tokens, so a rotation signs
everyone out) and holds the SHA-256 of the token it was opened with and a CSRF token: a
session whose token is rotated out stops working at once. Forms that act carry the CSRF token
(:func:`check_csrf`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

from shared.settings import Settings

Scope = Literal["read", "operator"]
SESSION_COOKIE = "codex_judge_session"
SESSION_MAX_AGE_S = 12 * 3600
_NAMED = re.compile(r"^([A-Za-z0-9_.@-]{1,64}):(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Principal:
    """The caller a token stands for.

    Attributes:
        actor: recorded with every action (the token's name, never the token).
        scope: ``read`` or ``operator`` (operator may also act).
        digest: SHA-256 of the token (hex), what a session cookie remembers.
    """

    actor: str
    scope: Scope
    digest: str

    @property
    def may_act(self) -> bool:
        """Whether this caller may approve, rerun, cancel and replay."""
        return self.scope == "operator"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenRing:
    """The accepted tokens (read and operator scope), compared in constant time."""

    def __init__(self, read: list[SecretStr], operator: list[SecretStr]) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        for scope, tokens in (("operator", operator), ("read", read)):
            for secret in tokens:
                raw = secret.get_secret_value().strip()
                named = _NAMED.match(raw)
                token = named.group(2) if named else raw
                if not token:
                    continue
                digest = _digest(token)
                actor = named.group(1) if named else f"token-{digest.hex()[:8]}"
                principal = Principal(actor=actor, scope=scope, digest=digest.hex())  # type: ignore[arg-type]
                self._entries.append((digest, principal))

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenRing:
        """The tokens of ``settings``."""
        return cls(settings.api_read_tokens, settings.api_operator_tokens)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def verify(self, token: str | None) -> Principal | None:
        """The principal of ``token``, or None. Compares against every entry (no early exit)."""
        if not token:
            return None
        return self._by_digest(_digest(token))

    def by_digest(self, hex_digest: str) -> Principal | None:
        """The principal whose token has SHA-256 ``hex_digest`` (a session's), or None."""
        try:
            raw = bytes.fromhex(hex_digest)
        except ValueError:
            return None
        return self._by_digest(raw)

    def _by_digest(self, digest: bytes) -> Principal | None:
        found: Principal | None = None
        for candidate, principal in self._entries:
            if hmac.compare_digest(candidate, digest) and found is None:
                found = principal
        return found

    def session_key(self, configured: SecretStr | None) -> bytes:
        """The cookie-signing key: ``api_session_secret``, else derived from every token."""
        if configured is not None:
            return configured.get_secret_value().encode("utf-8")
        material = b"".join(sorted(d for d, _ in self._entries))
        return hmac.new(b"codex-judge-ui-session", material, hashlib.sha256).digest()


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (RFC 6750 §2.1), or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@dataclass(frozen=True)
class Session:
    """An open UI session: the token's digest and the CSRF token of its forms."""

    digest: str
    csrf: str


class Sessions:
    """Signs and reads the session cookie."""

    def __init__(self, key: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="codex-judge-ui-session")

    def open(self, principal: Principal) -> str:
        """A new cookie value for ``principal`` with a fresh CSRF token."""
        return str(self._serializer.dumps({"t": principal.digest, "c": secrets.token_urlsafe(24)}))

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie value; None when absent, forged or older than 12 hours."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("t"), str):
            return None
        return Session(digest=data["t"], csrf=str(data.get("c") or ""))


def check_csrf(session: Session, submitted: str | None) -> bool:
    """Whether a form's ``csrf_token`` is the session's (constant time)."""
    if not submitted or not session.csrf:
        return False
    return hmac.compare_digest(session.csrf.encode(), submitted.encode())
