"""GitHub webhook signatures (GitHub docs, "Validating webhook deliveries").

``X-Hub-Signature-256`` is ``sha256=`` + hex HMAC-SHA256 of the **raw request body bytes**
keyed by the webhook secret. Every configured secret is tried (rotation: old and new are valid
together) and each comparison is constant-time (:func:`hmac.compare_digest`), so timing does not
reveal how much of a forged signature matched.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from pydantic import SecretStr

from shared.errors import UnauthorizedError

HEADER = "X-Hub-Signature-256"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub would send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str | None, secrets: Iterable[SecretStr]) -> None:
    """Accept ``body`` only when ``signature`` matches one of ``secrets``.

    Raises:
        UnauthorizedError: the header is missing, malformed, no secret is configured, or no
            secret produces it (``field`` = the header name).
    """
    if not signature or not signature.startswith("sha256="):
        raise UnauthorizedError(f"{HEADER} is missing or not sha256=<hex>", field=HEADER)
    matched = False
    # Compare against every secret without stopping early: the work done does not depend on
    # which secret (if any) matched.
    for secret in secrets:
        expected = sign(secret.get_secret_value(), body)
        matched |= hmac.compare_digest(expected.encode(), signature.encode())
    if not matched:
        raise UnauthorizedError(f"{HEADER} does not match any configured secret", field=HEADER)
