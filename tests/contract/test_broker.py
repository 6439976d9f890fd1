"""HttpxBroker (the Broker port) against a recording Broker ingress over real HTTP: binary-mode
CloudEvents (the CloudEvents HTTP binding), and the delivery contract's errors."""

from __future__ import annotations

from collections.abc import Iterator

import flask
import pytest

from shared.adapters.broker import HttpxBroker
from shared.errors import SinkNotBoundError, UpstreamError
from shared.local.fakes.base import ServedFake, serve_fake
from shared.runtime.envelope import OutgoingEvent


@pytest.fixture
def ingress() -> Iterator[tuple[ServedFake, list[dict[str, object]]]]:
    received: list[dict[str, object]] = []
    app = flask.Flask("ingress")

    @app.post("/<path:status>")
    def receive(status: str) -> flask.Response:
        received.append({"headers": dict(flask.request.headers), "body": flask.request.data})
        return flask.Response(b"", status=int(status))

    served = serve_fake(app)
    yield served, received
    served.stop()


EVENT = OutgoingEvent(
    type="io.codexjudge.timers.due.v1",
    source="/codex-judge/scheduler",
    id="0123456789abcdef",
    data={"owner": "ci-status"},
    subject="ci-status",
    extensions={},
)


def test_an_event_is_posted_in_binary_mode(ingress: tuple[ServedFake, list]) -> None:
    served, received = ingress
    HttpxBroker(f"{served.url}/202", function_name="scheduler").publish(EVENT)
    [request] = received
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert (headers["ce-type"], headers["ce-id"]) == (EVENT.type, EVENT.id)
    assert headers["ce-source"] == EVENT.source and headers["ce-subject"] == "ci-status"
    assert request["body"] == b'{"owner": "ci-status"}'


def test_without_k_sink_publishing_is_503_naming_the_setting() -> None:
    with pytest.raises(SinkNotBoundError) as refused:
        HttpxBroker(None, function_name="scheduler").publish(EVENT)
    assert refused.value.status == 503 and refused.value.body()["field"] == "K_SINK"
    assert "'scheduler' needs a SinkBinding" in refused.value.message


@pytest.mark.parametrize("status", [400, 500])
def test_an_ingress_that_refuses_is_transient(
    ingress: tuple[ServedFake, list], status: int
) -> None:
    served, _ = ingress
    with pytest.raises(UpstreamError, match=f"K_SINK answered {status}"):
        HttpxBroker(f"{served.url}/{status}", function_name="merge").publish(EVENT)


def test_an_unreachable_ingress_is_transient() -> None:
    with pytest.raises(UpstreamError, match="publishing to K_SINK failed"):
        HttpxBroker("http://127.0.0.1:9/", function_name="merge").publish(EVENT, timeout_s=2)
