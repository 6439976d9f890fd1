"""Posting an operator's event to the Broker: the judge.decided of an approval or rerun, or a
dead letter as it was first delivered (binary content mode, CloudEvents HTTP binding 1.0).

The api function finds the Broker in ``K_SINK`` (its SinkBinding, ``knative/base``); the command
line in ``K_SINK`` or the local mesh's ``broker`` URL.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.adapters.broker import HttpxBroker
from shared.errors import UpstreamError
from shared.runtime.envelope import OutgoingEvent, header_value, to_binary_http

#: Extensions Knative adds to a dead-lettered event; a replay sends the event without them.
KNATIVE_ERROR_EXTENSIONS = frozenset({"knativeerrordest", "knativeerrorcode", "knativeerrordata"})


class SinkRequest(BaseModel):
    """One binary-mode POST: ``ce-*`` headers and the raw body (stored for a retry)."""

    model_config = ConfigDict(frozen=True)

    headers: dict[str, str]
    body: str
    body_encoding: str = "utf-8"


def event_request(event: OutgoingEvent) -> SinkRequest:
    """The POST of an event we emit (JSON data)."""
    headers, body = to_binary_http(event)
    return SinkRequest(headers=headers, body=body.decode("utf-8"))


def replay_request(attributes: dict[str, Any], data: bytes | None) -> SinkRequest:
    """The POST that delivers a dead letter again: its stored attributes as ``ce-*`` headers
    (Knative's error extensions dropped), ``datacontenttype`` as ``Content-Type``, the stored
    bytes as the body (latin-1 in the stored request, so any bytes survive JSON)."""
    headers: dict[str, str] = {}
    for name, value in sorted(attributes.items()):
        if name in KNATIVE_ERROR_EXTENSIONS or value is None:
            continue
        if name == "datacontenttype":
            headers["Content-Type"] = str(value)
        else:
            headers[f"ce-{name}"] = header_value(str(value))
    return SinkRequest(
        headers=headers, body=(data or b"").decode("latin-1"), body_encoding="latin-1"
    )


def post(sink: str | None, request: SinkRequest, *, timeout_s: float = 10.0) -> dict[str, Any]:
    """POST ``request`` to ``sink``; the response summary (``{"status": int}``).

    Raises:
        UpstreamError: no sink is configured (``field`` = ``K_SINK``), it could not be reached,
            or it answered other than 2xx (answered 503: the action can be retried with the
            same idempotency key).
    """
    if not sink:
        raise UpstreamError(
            "no Broker to publish to: K_SINK is not set (the api Service needs the SinkBinding"
            " of knative/base/sink-bindings.yaml; the command line takes --broker)",
            field="K_SINK",
        )
    body = request.body.encode(request.body_encoding)
    broker = HttpxBroker(sink, function_name="api")
    return {"status": broker.post(request.headers, body, timeout_s=timeout_s)}
