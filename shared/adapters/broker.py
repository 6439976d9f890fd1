"""The Broker's ingress over HTTP (httpx): one binary-mode CloudEvent POST to a sink URL, for
what an operator action publishes (:mod:`shared.operator.sink`)."""

from __future__ import annotations

import httpx

from shared.errors import UpstreamError


def post_to_sink(sink: str, headers: dict[str, str], body: bytes, *, timeout_s: float) -> int:
    """POST ``body`` with ``headers`` to ``sink``; the HTTP status (2xx).

    Raises:
        UpstreamError: the sink could not be reached or answered other than 2xx
            (``field`` = ``K_SINK``).
    """
    try:
        resp = httpx.post(sink, headers=headers, content=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise UpstreamError(f"the Broker could not be reached: {exc}", field="K_SINK") from exc
    if resp.status_code // 100 != 2:
        raise UpstreamError(f"the Broker answered {resp.status_code}", field="K_SINK")
    return resp.status_code
