"""Kafka records and CloudEvents: what a KafkaSink stores and what a KafkaSource delivers."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

from shared.local.mesh.delivery import DeliveryPolicy
from shared.local.mesh.kafka import KafkaRecord, is_cloudevent, sink_record, source_event
from shared.local.mesh.manifests import load_manifests, parse_documents
from shared.local.mesh.wire import KAFKA_EVENT_TYPE
from shared.runtime.envelope import Envelope
from tests.conftest import ROOT

NS = "codex-judge"
TOPIC = "codex-judge.dead-letters"
ERROR_BODY = json.dumps({"error": "InvalidDataError", "field": "data.run_id"}).encode()
DEAD_LETTER = Envelope(
    id="rc-42",
    source="/codex-judge/run-complete",
    type="io.codexjudge.run.completed.v1",
    subject="Codertocat/Hello-World#2",
    time="2026-11-29T15:00:00Z",
    datacontenttype="application/json",
    data=b'{"run_id": 7, "note": "caf\xc3\xa9"}',
    extensions={
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "knativeerrordest": "http://judge.codex-judge.svc.cluster.local",
        "knativeerrorcode": "422",
        "knativeerrordata": base64.b64encode(ERROR_BODY).decode(),
    },
)


def test_a_kafka_sink_in_binary_mode_stores_attributes_as_ce_headers_and_data_as_value() -> None:
    record = sink_record(DEAD_LETTER, TOPIC)
    assert record.topic == TOPIC
    assert record.value == DEAD_LETTER.data
    assert record.key is None
    assert dict(record.headers) == {
        "ce_specversion": "1.0",
        "ce_id": "rc-42",
        "ce_source": "/codex-judge/run-complete",
        "ce_type": "io.codexjudge.run.completed.v1",
        "ce_subject": "Codertocat/Hello-World#2",
        "ce_time": "2026-11-29T15:00:00Z",
        "ce_traceparent": DEAD_LETTER.extensions["traceparent"],
        "ce_knativeerrordest": "http://judge.codex-judge.svc.cluster.local",
        "ce_knativeerrorcode": "422",
        "ce_knativeerrordata": DEAD_LETTER.extensions["knativeerrordata"],
        "content-type": "application/json",
    }


def test_the_partitionkey_extension_becomes_the_record_key() -> None:
    event = Envelope(id="1", source="/s", type="t", extensions={"partitionkey": "o/r#2"})
    assert sink_record(event, TOPIC).key == "o/r#2"


def test_a_kafka_source_delivers_a_stored_cloudevent_as_is_with_its_error_extensions() -> None:
    record = sink_record(DEAD_LETTER, TOPIC, "binary")
    assert is_cloudevent(record)
    assert source_event(NS, "dead-letters", record) == DEAD_LETTER


def test_a_structured_record_is_delivered_as_the_same_event_with_equal_json_data() -> None:
    record = sink_record(DEAD_LETTER, TOPIC, "structured")
    assert is_cloudevent(record)
    delivered = source_event(NS, "dead-letters", record)
    assert dataclasses.replace(delivered, data=b"") == dataclasses.replace(DEAD_LETTER, data=b"")
    assert json.loads(delivered.data) == json.loads(DEAD_LETTER.data)


def test_a_structured_record_carries_the_json_event_format() -> None:
    record = sink_record(DEAD_LETTER, TOPIC, "structured")
    assert dict(record.headers) == {"content-type": "application/cloudevents+json"}
    doc = json.loads(record.value)
    assert doc["id"] == "rc-42" and doc["knativeerrorcode"] == "422"
    assert doc["data"] == {"run_id": 7, "note": "café"}


def test_a_plain_record_is_wrapped_as_a_kafka_event_with_its_headers_as_extensions() -> None:
    record = KafkaRecord(
        topic="github.webhooks",
        value=b'{"deliveryId": "d-1"}',
        key="o/r",
        headers={"content-type": "Application/JSON", "X-GitHub-Event": "push"},
        offset=12,
    )
    assert not is_cloudevent(record)
    event = source_event(NS, "github-events", record)
    assert event.type == KAFKA_EVENT_TYPE
    assert event.id == "partition:0/offset:12"
    assert event.source == f"/apis/v1/namespaces/{NS}/kafkasources/github-events#github.webhooks"
    assert event.subject == "partition:0#12"
    assert event.datacontenttype == "application/json"
    assert event.extensions == {
        "key": "o/r",
        "partitionkey": "o/r",
        "kafkaheaderxgithubevent": "push",
    }
    assert event.data == record.value


def test_a_record_that_only_looks_like_a_cloudevent_is_wrapped_not_lost() -> None:
    record = KafkaRecord(
        topic=TOPIC, value=b"{}", headers={"ce_specversion": "1.0", "ce_type": "t"}, offset=3
    )
    event = source_event(NS, "dead-letters", record)
    assert (event.type, event.id) == (KAFKA_EVENT_TYPE, "partition:0/offset:3")
    assert event.extensions["kafkaheadercespecversion"] == "1.0"


def test_a_kafka_sink_document_is_read_with_its_topic_and_content_mode() -> None:
    doc = {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "KafkaSink",
        "metadata": {"name": "dead-letters", "namespace": NS},
        "spec": {"topic": TOPIC, "bootstrapServers": ["k:9092"], "contentMode": "structured"},
    }
    (sink,) = parse_documents([(Path("x.yaml"), doc)]).kafka_sinks
    assert (sink.name, sink.namespace, sink.topic, sink.content_mode) == (
        "dead-letters",
        NS,
        TOPIC,
        "structured",
    )


def test_the_manifests_dead_letter_through_kafka_into_the_dead_letter_function() -> None:
    manifests = load_manifests(ROOT)
    (sink,) = manifests.kafka_sinks
    assert (sink.name, sink.topic, sink.content_mode) == ("dead-letters", TOPIC, "binary")
    broker = manifests.broker()
    dead_letter_sinks = {
        (d.dead_letter_sink.ref.kind, d.dead_letter_sink.ref.name)
        for d in [broker.delivery, *(t.delivery for t in manifests.triggers)]
        if d is not None and d.dead_letter_sink is not None and d.dead_letter_sink.ref
    }
    assert dead_letter_sinks == {("KafkaSink", "dead-letters")}
    source = next(k for k in manifests.kafka_sources if k.name == "dead-letters")
    assert source.topics == [TOPIC]
    assert source.sink.ref is not None
    assert (source.sink.ref.kind, source.sink.ref.name) == ("Service", "dead-letter")
    assert source.delivery is not None and source.delivery.dead_letter_sink is None
    for other in manifests.kafka_sources:
        if other.name != "dead-letters":
            assert other.delivery is not None and other.delivery.dead_letter_sink is not None
            assert other.delivery.dead_letter_sink.ref is not None
            assert other.delivery.dead_letter_sink.ref.kind == "KafkaSink", other.name


def _window_s(policy: DeliveryPolicy) -> float:
    """Seconds of backoff before the last retry, counted the shorter way Knative's docs allow
    (an exponential first retry waits ``backoffDelay``, not twice that)."""
    total = sum(policy.backoff_s(n) for n in range(1, policy.retry + 1))
    return total / 2 if policy.backoff_policy == "exponential" else total


# Trigger whose events are worthless once stale: it retries within a minute on purpose.
SHORT_WINDOW = {"scheduler"}


def test_every_retry_window_outlasts_a_database_failover() -> None:
    manifests = load_manifests(ROOT)
    deliveries = {
        "broker": manifests.broker().delivery,
        **{
            f"trigger {t.name}": t.delivery
            for t in manifests.triggers
            if t.name not in SHORT_WINDOW
        },
        **{f"source {k.name}": k.delivery for k in manifests.kafka_sources},
    }
    for owner, spec in deliveries.items():
        assert _window_s(DeliveryPolicy.from_spec(spec)) >= 15 * 60, owner
    # Dead letters wait for the database for hours, not minutes.
    assert _window_s(DeliveryPolicy.from_spec(deliveries["source dead-letters"])) >= 3 * 3600
