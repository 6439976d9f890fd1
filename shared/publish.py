"""Publishing CloudEvents to the Broker (``K_SINK``) from a function that cannot reply.

A function answers one event with at most one reply. When it has more to say — a webhook
called by GitHub rather than by the Broker, or a tick that concludes several runs — it POSTs
each event in binary mode to ``K_SINK`` (set by a Knative SinkBinding; the local mesh sets it
to the broker ingress). Event ids are deterministic, so a repeated publish is deduplicated by
every consumer's inbox.
"""

from __future__ import annotations

import httpx

from shared.errors import UpstreamError
from shared.events import OutgoingEvent, to_binary_http
from shared.settings import Settings


def publish_event(settings: Settings, event: OutgoingEvent, *, timeout_s: float = 10.0) -> bool:
    """POST ``event`` to ``K_SINK``; returns False when no sink is configured.

    Raises:
        UpstreamError: the sink did not answer 2xx or could not be reached (answer 503).
    """
    if not settings.k_sink:
        return False
    headers, body = to_binary_http(event)
    try:
        resp = httpx.post(settings.k_sink, headers=headers, content=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise UpstreamError(f"publishing to K_SINK failed: {exc}", field="K_SINK") from exc
    if resp.status_code // 100 != 2:
        raise UpstreamError(f"K_SINK answered {resp.status_code}", field="K_SINK")
    return True
