"""The HTTP error mapping every adapter shares (DESIGN §6 delivery contract).

::

    transport error (timeout, refused, reset)  → UpstreamError          (503, retried)
    429                                        → RateLimitedError       (429 + Retry-After)
    408, 5xx                                   → UpstreamError          (503, retried)
    401 when the adapter says so (GitHub)      → UpstreamError          (a rotated credential)
    any other 4xx                              → UpstreamRejectedError  (422, dead letter)

Adapters add their service's own rules first (GitHub's 403 rate limits; GitHub's 404/410 on a
repository, pull request or commit → :class:`~shared.errors.UpstreamNotFoundError`, a decision
the gates record). An API error is never turned into an empty result.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx

from shared.errors import RateLimitedError, UpstreamError, UpstreamRejectedError

__all__ = [
    "BearerJsonApi",
    "UpstreamRejectedError",
    "bearer_client",
    "body_json",
    "error_message",
    "raise_for_status",
    "retry_after_seconds",
    "send",
]


def bearer_client(
    base_url: str,
    *,
    token: str | None,
    timeout_s: float,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An httpx client for a JSON API at ``base_url`` with an optional bearer token: the one
    client every JSON adapter uses."""
    headers = {"Accept": "application/json", "User-Agent": "codex-judge"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(
        base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s, transport=transport
    )


class BearerJsonApi:
    """The base of an adapter for a JSON API behind an optional bearer token (Argo, Argo CD).

    Args:
        base_url: the API root, e.g. ``https://argo.example.com:2746`` (no trailing path).
        token: a bearer token, or None.
        timeout_s: per-request timeout in seconds.
        transport: an httpx transport (tests); None uses the network.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = bearer_client(
            base_url, token=token, timeout_s=timeout_s, transport=transport
        )


#: Methods sent again once after a connection failure (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})


def send(
    client: httpx.Client, method: str, url: str, *, service: str, **kwargs: Any
) -> httpx.Response:
    """``client.request(...)`` with transport failures mapped to :class:`UpstreamError`.

    An idempotent request (``GET``, ``HEAD``) whose connection is reset or closed before any
    answer is sent once more at once (RFC 9110 §9.2.2: a client may retry an idempotent request
    after a connection failure): the usual cause is a kept-alive connection the server closed
    as the request went out.

    Raises:
        UpstreamError: timeout, connection refused/reset, or a protocol error.
    """
    try:
        try:
            return client.request(method, url, **kwargs)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            if method.upper() not in IDEMPOTENT_METHODS:
                raise
            return client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise UpstreamError(
            f"{service} did not answer in time ({type(exc).__name__})", service=service
        ) from exc
    except httpx.TransportError as exc:
        raise UpstreamError(f"{service} could not be reached: {exc}", service=service) from exc


def body_json(resp: httpx.Response) -> Any:
    """The response body as JSON, or None when it is not JSON."""
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def error_message(resp: httpx.Response) -> str:
    """The upstream's own error text: ``message``, ``error.message``, ``error`` or the body."""
    body = body_json(resp)
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if body.get("message"):
            return str(body["message"])
        if isinstance(err, str):
            return err
    text = resp.text.strip()
    return text[:300] if text else resp.reason_phrase


def retry_after_seconds(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date, RFC
    9110 §10.2.3) or GitHub's ``x-ratelimit-reset`` (epoch seconds) when nothing remains.

    Returns:
        A positive number of seconds (at least 1 for the reset rule), or None when absent.
    """
    now = time.time() if now is None else now
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if value else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - now)
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            return max(1.0, float(headers["x-ratelimit-reset"]) - now)
        except ValueError:
            return None
    return None


def raise_for_status(
    resp: httpx.Response,
    *,
    service: str,
    default_retry_after: float = 60.0,
    unauthorized_is_transient: bool = False,
) -> None:
    """Raise the mapped error for a non-2xx response (see module docstring); 2xx/3xx pass.

    Raises:
        RateLimitedError: 429 (``retry_after`` from the headers, else ``default_retry_after``).
        UpstreamError: 408, 5xx, or 401 with ``unauthorized_is_transient``.
        UpstreamRejectedError: any other 4xx.
    """
    status = resp.status_code
    if status < 400:
        return
    message = f"{service} answered {status}: {error_message(resp)}"
    if status == 429:
        retry = retry_after_seconds(resp.headers)
        raise RateLimitedError(
            message, retry_after=default_retry_after if retry is None else retry, service=service
        )
    if status >= 500 or status == 408 or (status == 401 and unauthorized_is_transient):
        raise UpstreamError(message, service=service, upstream_status=status)
    raise UpstreamRejectedError(message, service=service, upstream_status=status)
