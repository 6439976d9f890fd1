"""The shared HTTP mapping: a reset connection is retried once for idempotent requests only
(RFC 9110 §9.2.2), and every transport failure is an ``UpstreamError``."""

from __future__ import annotations

import httpx
import pytest

from shared.adapters.http import send
from shared.errors import UpstreamError


def _client(failures: int) -> tuple[httpx.Client, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if len(seen) <= failures:
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        return httpx.Response(200, json={"ok": True})

    return httpx.Client(transport=httpx.MockTransport(handler)), seen


def test_a_get_whose_connection_was_reset_is_sent_once_more() -> None:
    client, seen = _client(failures=1)
    assert send(client, "GET", "http://upstream/x", service="GitHub").json() == {"ok": True}
    assert seen == ["GET", "GET"]


def test_a_second_reset_is_an_upstream_error_not_a_loop() -> None:
    client, seen = _client(failures=2)
    with pytest.raises(UpstreamError, match="GitHub could not be reached"):
        send(client, "GET", "http://upstream/x", service="GitHub")
    assert seen == ["GET", "GET"]


def test_a_post_is_never_sent_twice() -> None:
    client, seen = _client(failures=1)
    with pytest.raises(UpstreamError):
        send(client, "POST", "http://upstream/x", service="GitHub", json={})
    assert seen == ["POST"]  # it may have been applied: the effects outbox decides
