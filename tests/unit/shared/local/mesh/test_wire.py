"""CloudEvents on the wire as Knative sends them: binary mode, KafkaSource and PingSource
events."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.local.mesh.wire import binary_request, kafka_record_event, ping_event
from shared.runtime.envelope import Envelope, read_event
from tests.conftest import FIXTURES

RECORD = (FIXTURES / "corpus" / "argo" / "workflow.failed.onexit-s3-keys.yaml").read_bytes()


def test_a_kafka_record_is_wrapped_like_a_kafka_source_with_no_content_type() -> None:
    event = kafka_record_event(
        "codex-judge",
        "argo-workflow-completions",
        "argo.workflows.completions",
        RECORD,
        offset=41,
        key="uid-1",
        timestamp=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    headers, body = binary_request(event)
    assert body == RECORD
    assert "Content-Type" not in headers
    assert headers == {
        "ce-specversion": "1.0",
        "ce-id": "partition:0/offset:41",
        "ce-source": "/apis/v1/namespaces/codex-judge/kafkasources/argo-workflow-completions"
        "#argo.workflows.completions",
        "ce-type": "dev.knative.kafka.event",
        "ce-subject": "partition:0#41",
        "ce-time": "2025-01-02T03:04:05Z",
        "ce-key": "uid-1",
        "ce-partitionkey": "uid-1",
    }


def test_binary_mode_round_trips_through_the_project_event_reader() -> None:
    sent = Envelope(
        id="e-1",
        source="/codex-judge/judge",
        type="io.codexjudge.judge.decided.v1",
        subject="o/r#1",
        time="2025-01-02T03:04:05Z",
        datacontenttype="application/json",
        data=b'{"decision":"pass"}',
        extensions={"traceparent": "00-ab-cd-01"},
    )
    headers, body = binary_request(sent)
    assert read_event(headers, body) == sent


def test_non_ascii_attribute_values_are_percent_encoded_for_http_headers() -> None:
    event = Envelope(id="e-1", source="/s", type="t", subject="café", data=b"")
    headers, _ = binary_request(event)
    assert headers["ce-subject"] == "caf%C3%A9"


def test_a_ping_carries_its_configured_data_and_content_type() -> None:
    event = ping_event("codex-judge", "tick", '{"tick": 1}', "application/json")
    assert event.source == "/apis/v1/namespaces/codex-judge/pingsources/tick"
    assert event.type == "dev.knative.sources.ping"
    assert (event.data, event.datacontenttype) == (b'{"tick": 1}', "application/json")
    assert ping_event("codex-judge", "tick", None, "application/json").datacontenttype is None
