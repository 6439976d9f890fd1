"""Publishing CloudEvents to the Broker (``K_SINK``) from a function that cannot reply.

A function answers one event with at most one reply. When it has more to say — a webhook
called by GitHub rather than by the Broker, or a tick that concludes several runs — it POSTs
each event in binary mode to ``K_SINK``, which a Knative SinkBinding injects (the SinkBinding
``publishers`` in ``knative/base``; the local mesh derives it from the same manifest). Event
ids are deterministic, so a repeated publish is deduplicated by every consumer's inbox.

A publisher without ``K_SINK`` is a deployment error, never a silent drop: :func:`publish_event`
raises :class:`SinkNotBoundError` (503), so the caller's transaction rolls back or its timer
stays due, and the next delivery or tick publishes once the binding exists.
"""

from __future__ import annotations

import httpx

from shared.errors import UpstreamError
from shared.runtime.envelope import OutgoingEvent, to_binary_http
from shared.settings import Settings


class SinkNotBoundError(UpstreamError):
    """``K_SINK`` is not set: the Service has no SinkBinding (answered 503, retried)."""


def publish_event(settings: Settings, event: OutgoingEvent, *, timeout_s: float = 10.0) -> None:
    """POST ``event`` to ``K_SINK`` in binary mode.

    Raises:
        SinkNotBoundError: no ``K_SINK`` (the function's Service has no SinkBinding).
        UpstreamError: the sink did not answer 2xx or could not be reached (answer 503).
    """
    if not settings.k_sink:
        raise SinkNotBoundError(
            f"{event.type} not published: K_SINK is not set; the function "
            f"{settings.function_name!r} needs a SinkBinding to the Broker "
            "(knative/base/sink-bindings.yaml selects Services labelled "
            "codex-judge.io/publishes=true)",
            field="K_SINK",
        )
    headers, body = to_binary_http(event)
    try:
        resp = httpx.post(settings.k_sink, headers=headers, content=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise UpstreamError(f"publishing to K_SINK failed: {exc}", field="K_SINK") from exc
    if resp.status_code // 100 != 2:
        raise UpstreamError(f"K_SINK answered {resp.status_code}", field="K_SINK")
