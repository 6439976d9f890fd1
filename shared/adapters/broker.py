"""HttpxBroker: the :class:`shared.ports.Broker` port, publishing CloudEvents to ``K_SINK``.

A function answers one event with at most one reply. When it has more to say — a webhook
called by GitHub rather than by the Broker, or a tick that concludes several runs — it POSTs
each event in binary mode (the CloudEvents HTTP binding) to ``K_SINK``, which a Knative
SinkBinding injects (the SinkBinding ``publishers`` in ``knative/base``; the local mesh derives
it from the same manifest). Event ids are deterministic, so a repeated publish is deduplicated
by every consumer's inbox.

A publisher without ``K_SINK`` is a deployment error, never a silent drop: :meth:`publish`
raises :class:`~shared.errors.SinkNotBoundError` (503), so the caller's transaction rolls back
or its timer stays due, and the next delivery or tick publishes once the binding exists.
"""

from __future__ import annotations

import httpx

from shared.errors import SinkNotBoundError, UpstreamError
from shared.runtime.envelope import OutgoingEvent, to_binary_http
from shared.settings import Settings

__all__ = ["DEFAULT_TIMEOUT_S", "HttpxBroker"]

#: Seconds to wait for the sink (the Broker ingress) when the caller names no timeout.
DEFAULT_TIMEOUT_S = 10.0


class HttpxBroker:
    """Publishes to one sink URL.

    Args:
        sink_url: ``K_SINK`` (the Broker ingress), or None when the Service has no SinkBinding.
        function_name: the publishing Service, named in the error when there is no sink.
        transport: an httpx transport (tests); None uses the network.
    """

    def __init__(
        self,
        sink_url: str | None,
        *,
        function_name: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._sink = sink_url
        self._function = function_name
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpxBroker:
        """Build from ``k_sink`` and ``function_name``."""
        return cls(settings.k_sink, function_name=settings.function_name)

    def publish(self, event: OutgoingEvent, *, timeout_s: float | None = None) -> None:
        """POST ``event`` to the sink in binary mode.

        Args:
            event: the CloudEvent to publish.
            timeout_s: seconds to wait for the sink; None is :data:`DEFAULT_TIMEOUT_S`.

        Raises:
            SinkNotBoundError: no ``K_SINK`` (the function's Service has no SinkBinding).
            UpstreamError: the sink did not answer 2xx or could not be reached (answer 503).
        """
        if not self._sink:
            raise SinkNotBoundError(
                f"{event.type} not published: K_SINK is not set; the function "
                f"{self._function!r} needs a SinkBinding to the Broker "
                "(knative/base/sink-bindings.yaml selects Services labelled "
                "codex-judge.io/publishes=true)",
                field="K_SINK",
            )
        headers, body = to_binary_http(event)
        self.post(headers, body, timeout_s=timeout_s)

    def post(self, headers: dict[str, str], body: bytes, *, timeout_s: float | None = None) -> int:
        """POST a CloudEvent already in binary mode (``ce-*`` headers, raw body): an operator's
        replay of a dead letter exactly as it was stored. Returns the HTTP status (2xx).

        Raises:
            SinkNotBoundError: no ``K_SINK``.
            UpstreamError: the sink did not answer 2xx or could not be reached (answer 503).
        """
        if not self._sink:
            raise SinkNotBoundError(
                f"not published: K_SINK is not set for {self._function!r}", field="K_SINK"
            )
        timeout = DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        try:
            with httpx.Client(transport=self._transport, timeout=timeout) as client:
                resp = client.post(self._sink, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"publishing to K_SINK failed: {exc}", field="K_SINK") from exc
        if resp.status_code // 100 != 2:
            raise UpstreamError(f"K_SINK answered {resp.status_code}", field="K_SINK")
        return resp.status_code
