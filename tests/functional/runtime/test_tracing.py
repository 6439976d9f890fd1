"""OpenTelemetry across functions: each event gets a CONSUMER span that continues the trace of
its ``traceparent`` extension, and the reply carries the trace on (DESIGN §10)."""

from __future__ import annotations

from typing import Any

import flask
import httpx

from shared.runtime.envelope import Envelope
from shared.runtime.handler import cloudevent_function
from shared.runtime.outcomes import Context, Outcome, Reply
from shared.telemetry import observability

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def _echo(event: Envelope, ctx: Context) -> Outcome:
    return Reply("io.codexjudge.test.echoed.v1", {"echo": event.json()}, key=event.id)


def test_event_span_continues_the_incoming_trace_and_the_reply_carries_it(
    deps: Any, serve: Any
) -> None:
    observability.configure("codex-judge-tests", "memory")
    app = flask.Flask("echo")
    endpoint = cloudevent_function("echo", _echo, lambda: deps)
    app.add_url_rule("/", "echo", lambda: endpoint(flask.request), methods=["POST"])
    url = serve(app).url

    resp = httpx.post(
        url,
        content=b'{"n": 1}',
        headers={
            "ce-specversion": "1.0",
            "ce-id": "trace-1",
            "ce-source": "/test",
            "ce-type": "io.codexjudge.test.v1",
            "ce-traceparent": PARENT,
            "content-type": "application/json",
        },
    )
    assert resp.status_code == 200
    reply_parent = resp.headers["ce-traceparent"]
    assert reply_parent.split("-")[1] == TRACE_ID
    assert reply_parent != PARENT  # the reply's parent is our span, not the sender's

    spans = [
        s for s in observability.MEMORY_EXPORTER.get_finished_spans() if s.name == "echo process"
    ]
    assert len(spans) == 1
    span = spans[0]
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert span.attributes["cloudevents.event_id"] == "trace-1"
    assert span.attributes["cloudevents.event_type"] == "io.codexjudge.test.v1"
    assert reply_parent.split("-")[2] == format(span.context.span_id, "016x")
