"""The local broker over real HTTP: routing, retries, dead letters, replies, Kafka wrapping,
structured ingress, idle detection and PingSource ticks. Subscribers are small Flask apps."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest

from shared.local.mesh.broker import LocalBroker
from shared.local.mesh.kustomize import kustomize_build, services
from shared.local.mesh.manifests import Manifests, load_manifests, parse_documents
from tests.conftest import FIXTURES, ROOT

NS = "codex-judge"
DLS = {
    "ref": {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "name": "dead-letter",
        "namespace": NS,
    }
}
FAST = {
    "retry": 3,
    "backoffPolicy": "exponential",
    "backoffDelay": "PT0.2S",
    "timeout": "PT5S",
    "deadLetterSink": DLS,
}
BROKER_REF = {
    "ref": {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "name": "codex-judge",
        "namespace": NS,
    }
}
KAFKA_SOURCE = (
    f"/apis/v1/namespaces/{NS}/kafkasources/argo-workflow-completions#argo.workflows.completions"
)
ARGO_RECORD = FIXTURES / "corpus" / "argo" / "workflow.succeeded.subdag-params-s3.yaml"


def _trigger(name: str, subscriber: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "broker": "codex-judge",
            "subscriber": {
                "ref": {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Service",
                    "name": subscriber,
                }
            },
            "delivery": FAST,
            **spec,
        },
    }


def _manifests(*triggers: dict[str, Any]) -> Manifests:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "metadata": {"name": "codex-judge", "namespace": NS},
            "spec": {"delivery": FAST},
        },
        {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "KafkaSource",
            "metadata": {"name": "argo-workflow-completions", "namespace": NS},
            "spec": {
                "topics": ["argo.workflows.completions"],
                "bootstrapServers": ["k:9092"],
                "sink": BROKER_REF,
                "delivery": FAST,
            },
        },
        {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "PingSource",
            "metadata": {"name": "tick", "namespace": NS},
            "spec": {
                "schedule": "* * * * *",
                "contentType": "application/json",
                "data": '{"tick": "codex-judge"}',
                "sink": BROKER_REF,
            },
        },
        *triggers,
    ]
    return parse_documents((Path("test.yaml"), doc) for doc in docs)


class Recorder:
    """A subscriber that records every request and answers from a script of responses."""

    def __init__(self, *answers: Callable[[], flask.Response]) -> None:
        self.requests: list[dict[str, Any]] = []
        self._answers = list(answers)
        self._lock = threading.Lock()
        self.app = flask.Flask(f"recorder{id(self)}")
        self.app.add_url_rule("/", "receive", self._receive, methods=["POST"])

    def _receive(self) -> flask.Response:
        with self._lock:
            self.requests.append(
                {"headers": dict(flask.request.headers), "body": flask.request.get_data()}
            )
            answer = self._answers.pop(0) if self._answers else None
        return answer() if answer else flask.Response(b"", status=202)

    def types(self) -> list[str]:
        return [r["headers"].get("Ce-Type", "") for r in self.requests]


def _status(code: int, body: bytes = b"", **headers: str) -> Callable[[], flask.Response]:
    return lambda: flask.Response(body, status=code, headers=headers)


@pytest.fixture
def mesh(serve: Any) -> Iterator[Callable[..., tuple[LocalBroker, dict[str, Recorder]]]]:
    started: list[LocalBroker] = []

    def _start(
        manifests: Manifests, recorders: dict[str, Recorder], **kwargs: Any
    ) -> tuple[LocalBroker, dict[str, Recorder]]:
        recorders.setdefault("dead-letter", Recorder())
        urls = {name: serve(rec.app).url for name, rec in recorders.items()}
        broker = LocalBroker(manifests, urls, time_scale=0.05, **kwargs)
        broker.start("127.0.0.1", 0)
        started.append(broker)
        return broker, recorders

    yield _start
    for broker in started:
        broker.stop()


def _wait_idle(broker: LocalBroker) -> dict[str, Any]:
    base = broker.ingress_url.removesuffix(broker.path)
    for _ in range(200):
        if httpx.get(f"{base}/_mesh/idle", params={"quiet_ms": 50}).json()["idle"]:
            return dict(httpx.get(f"{base}/_mesh/stats").json())
        time.sleep(0.025)
    raise AssertionError(f"broker never went idle: {broker.stats()}")


def _binary(
    type_: str, event_id: str = "e-1", data: bytes = b'{"run_id": 7}', **extensions: str
) -> dict[str, Any]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/codex-judge/test",
        "ce-type": type_,
        "Content-Type": "application/json",
    }
    headers.update({f"ce-{k}": v for k, v in extensions.items()})
    return {"headers": headers, "content": data}


def test_events_reach_only_the_subscribers_whose_filters_match(mesh: Any) -> None:
    broker, rec = mesh(
        _manifests(
            _trigger(
                "ci",
                "ci-status",
                {
                    "filters": [
                        {
                            "any": [
                                {"exact": {"type": "io.codexjudge.run.completed.v1"}},
                                {"prefix": {"type": "com.github.check_run."}},
                            ]
                        }
                    ]
                },
            ),
            _trigger(
                "judge",
                "judge",
                {"filter": {"attributes": {"type": "io.codexjudge.ci.concluded.v1"}}},
            ),
        ),
        {"ci-status": Recorder(), "judge": Recorder()},
    )
    for i, type_ in enumerate(
        [
            "io.codexjudge.run.completed.v1",
            "com.github.check_run.completed",
            "io.codexjudge.ci.concluded.v1",
            "com.github.push",
        ]
    ):
        resp = httpx.post(broker.ingress_url, **_binary(type_, f"e-{i}"))
        assert resp.status_code == 202
    stats = _wait_idle(broker)
    assert sorted(rec["ci-status"].types()) == [
        "com.github.check_run.completed",
        "io.codexjudge.run.completed.v1",
    ]
    assert rec["judge"].types() == ["io.codexjudge.ci.concluded.v1"]
    assert stats["accepted"] == 4 and stats["delivered"] == 3


def test_delivery_preserves_attributes_extensions_and_data_in_binary_mode(mesh: Any) -> None:
    broker, rec = mesh(_manifests(_trigger("all", "judge", {})), {"judge": Recorder()})
    data = '{"note": "café ✓"}'.encode()
    httpx.post(
        broker.ingress_url,
        **_binary(
            "io.codexjudge.run.completed.v1",
            "e-9",
            data,
            subject="o/r#3",
            traceparent="00-ab-cd-01",
            key="o/r",
        ),
    )
    _wait_idle(broker)
    (req,) = rec["judge"].requests
    h = req["headers"]
    assert req["body"] == data
    assert (h["Ce-Id"], h["Ce-Source"], h["Ce-Specversion"]) == ("e-9", "/codex-judge/test", "1.0")
    assert (h["Ce-Subject"], h["Ce-Traceparent"], h["Ce-Key"]) == ("o/r#3", "00-ab-cd-01", "o/r")
    assert h["Content-Type"] == "application/json"


def test_transient_failures_are_retried_until_the_subscriber_accepts(mesh: Any) -> None:
    judge = Recorder(_status(503), _status(500), _status(429, **{"Retry-After": "0"}))
    broker, rec = mesh(_manifests(_trigger("all", "judge", {})), {"judge": judge})
    httpx.post(broker.ingress_url, **_binary("io.codexjudge.ci.concluded.v1"))
    stats = _wait_idle(broker)
    assert len(judge.requests) == 4
    assert {r["headers"]["Ce-Id"] for r in judge.requests} == {"e-1"}
    assert stats["retried"] == 3 and stats["delivered"] == 1 and stats["dead_lettered"] == 0
    assert [e["attempt"] for e in stats["log"]] == [1, 2, 3, 4]
    assert [e["status"] for e in stats["log"]] == [503, 500, 429, 202]
    assert rec["dead-letter"].requests == []


def test_a_400_goes_straight_to_the_dead_letter_sink_with_the_error_extensions(mesh: Any) -> None:
    error = json.dumps({"error": "MalformedEventError", "field": "data.run_id"}).encode()
    judge = Recorder(_status(400, error, **{"Content-Type": "application/json"}))
    broker, rec = mesh(_manifests(_trigger("all", "judge", {})), {"judge": judge})
    httpx.post(broker.ingress_url, **_binary("io.codexjudge.ci.concluded.v1", "e-400"))
    stats = _wait_idle(broker)
    assert len(judge.requests) == 1
    (dead,) = rec["dead-letter"].requests
    h = dead["headers"]
    assert h["Ce-Id"] == "e-400" and h["Ce-Type"] == "io.codexjudge.ci.concluded.v1"
    assert h["Ce-Knativeerrordest"] == "http://judge.codex-judge.svc.cluster.local"
    assert h["Ce-Knativeerrorcode"] == "400"
    assert base64.b64decode(h["Ce-Knativeerrordata"]) == error
    assert dead["body"] == b'{"run_id": 7}'
    assert stats["dead_lettered"] == 1 and stats["retried"] == 0


def test_retries_spent_send_the_event_to_the_dead_letter_sink(mesh: Any) -> None:
    judge = Recorder(*[_status(503, b"db down")] * 4)
    broker, rec = mesh(_manifests(_trigger("all", "judge", {})), {"judge": judge})
    httpx.post(broker.ingress_url, **_binary("io.codexjudge.ci.concluded.v1"))
    _wait_idle(broker)
    assert len(judge.requests) == 4  # retry: 3 → four attempts
    (dead,) = rec["dead-letter"].requests
    assert dead["headers"]["Ce-Knativeerrorcode"] == "503"
    assert base64.b64decode(dead["headers"]["Ce-Knativeerrordata"]) == b"db down"


def test_a_reply_is_routed_back_into_the_broker_to_the_next_subscriber(mesh: Any) -> None:
    reply = _status(
        200,
        b'{"decision": "pass"}',
        **{
            "ce-specversion": "1.0",
            "ce-id": "r-1",
            "ce-source": "/codex-judge/judge",
            "ce-type": "io.codexjudge.judge.decided.v1",
            "Content-Type": "application/json",
        },
    )
    broker, rec = mesh(
        _manifests(
            _trigger(
                "judge",
                "judge",
                {"filters": [{"exact": {"type": "io.codexjudge.ci.concluded.v1"}}]},
            ),
            _trigger(
                "discord",
                "discord",
                {"filters": [{"exact": {"type": "io.codexjudge.judge.decided.v1"}}]},
            ),
        ),
        {"judge": Recorder(reply), "discord": Recorder()},
    )
    httpx.post(broker.ingress_url, **_binary("io.codexjudge.ci.concluded.v1"))
    stats = _wait_idle(broker)
    (got,) = rec["discord"].requests
    assert got["headers"]["Ce-Id"] == "r-1"
    assert got["body"] == b'{"decision": "pass"}'
    assert stats["replies"] == 1 and stats["accepted"] == 2


def test_kafka_records_are_wrapped_exactly_as_a_kafka_source_does(mesh: Any) -> None:
    broker, rec = mesh(
        _manifests(
            _trigger(
                "run-complete",
                "run-complete",
                {
                    "filter": {
                        "attributes": {
                            "type": "dev.knative.kafka.event",
                            "source": KAFKA_SOURCE,
                        }
                    }
                },
            )
        ),
        {"run-complete": Recorder()},
    )
    record = ARGO_RECORD.read_bytes()
    base = broker.ingress_url.removesuffix(broker.path)
    first = httpx.post(
        f"{base}/_mesh/kafka/argo.workflows.completions",
        content=record,
        headers={"X-Kafka-Key": "wf-uid-1"},
    )
    second = httpx.post(f"{base}/_mesh/kafka/argo.workflows.completions", content=record)
    replay = httpx.post(
        f"{base}/_mesh/kafka/argo.workflows.completions",
        content=record,
        headers={"X-Kafka-Key": "wf-uid-1", "X-Kafka-Offset": "0"},
    )
    assert first.status_code == 202
    assert [r.json()["offset"] for r in (first, second, replay)] == [0, 1, 0]
    assert first.json()["sources"] == ["argo-workflow-completions"]
    _wait_idle(broker)
    got = sorted(rec["run-complete"].requests, key=lambda r: r["headers"]["Ce-Id"])
    assert len(got) == 3
    h = got[0]["headers"]
    assert got[0]["body"] == record
    assert "Content-Type" not in h
    assert h["Ce-Type"] == "dev.knative.kafka.event"
    assert h["Ce-Source"] == (
        f"/apis/v1/namespaces/{NS}/kafkasources/"
        "argo-workflow-completions#argo.workflows.completions"
    )
    assert (h["Ce-Id"], h["Ce-Subject"]) == ("partition:0/offset:0", "partition:0#0")
    assert (h["Ce-Key"], h["Ce-Partitionkey"]) == ("wf-uid-1", "wf-uid-1")
    assert got[1]["headers"]["Ce-Id"] == "partition:0/offset:0"  # the pinned replay: a duplicate
    assert got[2]["headers"]["Ce-Id"] == "partition:0/offset:1"
    assert "Ce-Key" not in got[2]["headers"]


def test_an_appended_record_never_takes_a_reserved_offset(mesh: Any) -> None:
    """A log replayed at offsets its sender chose (the soak) reserves them first: a record
    appended meanwhile (the fake Argo cluster's) goes after them, so no two records share an
    offset and with it a CloudEvent id."""
    broker, _ = mesh(_manifests(), {})
    base = broker.ingress_url.removesuffix(broker.path)
    topic = f"{base}/_mesh/kafka/argo.workflows.completions"
    assert broker.reserve("argo.workflows.completions", 3) == 0
    appended = httpx.post(topic, content=b"{}")
    pinned = httpx.post(topic, content=b"{}", headers={"X-Kafka-Offset": "2"})
    later = httpx.post(topic, content=b"{}")
    assert [r.json()["offset"] for r in (appended, pinned, later)] == [3, 2, 4]
    assert broker.reserve("argo.workflows.completions", 2) == 5


def test_a_bad_kafka_offset_is_rejected_naming_the_header(mesh: Any) -> None:
    broker, _ = mesh(_manifests(), {})
    base = broker.ingress_url.removesuffix(broker.path)
    resp = httpx.post(
        f"{base}/_mesh/kafka/argo.workflows.completions",
        content=b"{}",
        headers={"X-Kafka-Offset": "-3"},
    )
    assert resp.status_code == 400
    assert resp.json()["field"] == "X-Kafka-Offset"


def test_structured_mode_ingress_is_delivered_in_binary_mode(mesh: Any) -> None:
    broker, rec = mesh(_manifests(_trigger("all", "judge", {})), {"judge": Recorder()})
    sample = (
        FIXTURES / "corpus" / "knative" / "cloudevent.structured.json_data_with_ext.sdk-java.json"
    )
    doc = json.loads(sample.read_text())
    resp = httpx.post(
        broker.ingress_url,
        content=sample.read_bytes(),
        headers={"Content-Type": "application/cloudevents+json"},
    )
    assert resp.status_code == 202
    _wait_idle(broker)
    (req,) = rec["judge"].requests
    assert req["headers"]["Ce-Id"] == doc["id"]
    assert req["headers"]["Ce-Type"] == doc["type"]
    assert json.loads(req["body"]) == doc["data"]


def test_a_request_that_is_not_a_cloudevent_gets_400_naming_the_field(mesh: Any) -> None:
    broker, _ = mesh(_manifests(), {})
    resp = httpx.post(broker.ingress_url, json={"hello": "world"})
    assert resp.status_code == 400
    assert resp.json()["field"] == "ce-specversion"
    assert broker.stats()["accepted"] == 0


def test_idle_is_false_while_a_delivery_waits_for_its_retry(mesh: Any) -> None:
    judge = Recorder(_status(503))
    broker, _ = mesh(
        _manifests(_trigger("all", "judge", {"delivery": {**FAST, "backoffDelay": "PT4S"}})),
        {"judge": judge},
    )
    base = broker.ingress_url.removesuffix(broker.path)
    httpx.post(broker.ingress_url, **_binary("io.codexjudge.ci.concluded.v1"))
    for _ in range(100):  # the first attempt is done; the retry is 0.4 s away (scaled)
        if judge.requests:
            break
        time.sleep(0.01)
    assert httpx.get(f"{base}/_mesh/idle", params={"quiet_ms": 0}).json() == {"idle": False}
    assert broker.stats()["in_flight"] == 1
    stats = _wait_idle(broker)
    assert stats["delivered"] == 1 and len(judge.requests) == 2


def test_ping_source_ticks_reach_the_subscribed_function(mesh: Any) -> None:
    _, rec = mesh(
        _manifests(
            _trigger(
                "tick", "judge", {"filters": [{"exact": {"type": "dev.knative.sources.ping"}}]}
            )
        ),
        {"judge": Recorder()},
        ping_interval_s=0.1,
    )
    for _ in range(200):
        if rec["judge"].requests:
            break
        time.sleep(0.01)
    req = rec["judge"].requests[0]
    assert req["headers"]["Ce-Source"] == f"/apis/v1/namespaces/{NS}/pingsources/tick"
    assert req["headers"]["Content-Type"] == "application/json"
    assert json.loads(req["body"]) == {"tick": "codex-judge"}


def test_a_subscriber_missing_from_the_service_urls_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Service 'judge' has no local URL"):
        LocalBroker(_manifests(_trigger("all", "judge", {})), {"dead-letter": "http://127.0.0.1:9"})


def test_the_real_manifests_carry_an_argo_completion_through_run_complete_to_the_gates(
    mesh: Any,
) -> None:
    run_completed = _status(
        200,
        b'{"run_id": 1}',
        **{
            "ce-specversion": "1.0",
            "ce-id": "rc-1",
            "ce-source": "/codex-judge/run-complete",
            "ce-type": "io.codexjudge.run.completed.v1",
            "Content-Type": "application/json",
        },
    )
    recorders = {s["metadata"]["name"]: Recorder() for s in services(kustomize_build(ROOT))}
    recorders["run-complete"] = Recorder(run_completed)
    broker, rec = mesh(load_manifests(ROOT), recorders)
    base = broker.ingress_url.removesuffix(broker.path)
    resp = httpx.post(
        f"{base}/_mesh/kafka/argo.workflows.completions", content=ARGO_RECORD.read_bytes()
    )
    assert resp.json()["sources"] == ["argo-workflow-completions"]
    stats = _wait_idle(broker)
    assert rec["run-complete"].types() == ["dev.knative.kafka.event"]
    for gate in ("ci-status", "review-gate", "judge"):
        assert rec[gate].types() == ["io.codexjudge.run.completed.v1"], gate
    assert rec["discord"].requests == [] and rec["dead-letter"].requests == []
    assert stats["replies"] == 1
