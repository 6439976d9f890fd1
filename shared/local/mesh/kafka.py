"""Kafka records and CloudEvents, as a KafkaSink writes them and a KafkaSource reads them.

* :func:`sink_record` is what a ``KafkaSink`` stores for an event it receives. In ``binary``
  content mode (CloudEvents Kafka protocol binding 1.0 §3.2) every attribute and extension is a
  ``ce_<name>`` header, ``datacontenttype`` is the ``content-type`` header and the data bytes
  are the record value, untouched; in ``structured`` mode (§3.3) the value is the JSON event
  format and ``content-type`` is ``application/cloudevents+json``. The record key is the
  ``partitionkey`` extension when the event has one (§3.1). Sources: Knative "Knative Sink for
  Apache Kafka" (docs/eventing/sinks/kafka-sink.md, ``contentMode``) and the KafkaSink CRD.
* :func:`source_event` is what a ``KafkaSource`` delivers for a record. A record that *is* a
  CloudEvent (a ``ce_specversion`` header, or a ``content-type`` of
  ``application/cloudevents…``) is delivered as that CloudEvent, attributes and extensions
  as stored (so a dead letter keeps ``knativeerrordest``, ``knativeerrorcode`` and
  ``knativeerrordata``); any other record is wrapped as ``dev.knative.kafka.event``
  (:func:`shared.local.mesh.wire.kafka_record_event`), its other headers becoming
  ``kafkaheader<name>`` extensions and a ``content-type`` header its ``datacontenttype``.
  Source: eventing-kafka-broker's dispatcher, ``CloudEventDeserializer`` (the CloudEvents
  SDK's Kafka deserializer, falling back to ``InvalidCloudEvent``) and
  ``InvalidCloudEventInterceptor`` (which only rewrites ``InvalidCloudEvent`` records).

Header values are UTF-8 text (no percent-encoding in the Kafka binding). All functions are pure.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from shared.errors import MalformedEventError
from shared.local.mesh.wire import attributes, kafka_record_event
from shared.runtime.envelope import Envelope, read_event

CE_PREFIX = "ce_"
CONTENT_TYPE = "content-type"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
ContentMode = Literal["binary", "structured"]


@dataclass(frozen=True)
class KafkaRecord:
    """One Kafka record (headers as text, in the order they were written).

    Attributes:
        topic: the topic it is (or will be) in.
        value: the value bytes.
        key: the record key, or None.
        headers: header name → UTF-8 text.
        partition: its partition (the mesh has one per topic).
        offset: its offset in the partition (-1 until it is appended).
        timestamp: the record timestamp (UTC), or None for "now".
    """

    topic: str
    value: bytes
    key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    partition: int = 0
    offset: int = -1
    timestamp: datetime | None = None


def sink_record(event: Envelope, topic: str, mode: ContentMode = "binary") -> KafkaRecord:
    """The record a KafkaSink writes to ``topic`` for ``event`` (see the module docstring)."""
    attrs = attributes(event)
    key = event.extensions.get("partitionkey")
    if mode == "structured":
        return KafkaRecord(
            topic=topic,
            value=_structured(event, attrs),
            key=key,
            headers={CONTENT_TYPE: STRUCTURED_CONTENT_TYPE},
        )
    headers = {f"{CE_PREFIX}{k}": v for k, v in attrs.items() if k != "datacontenttype"}
    if event.datacontenttype:
        headers[CONTENT_TYPE] = event.datacontenttype
    return KafkaRecord(topic=topic, value=event.data, key=key, headers=headers)


def _structured(event: Envelope, attrs: dict[str, str]) -> bytes:
    doc: dict[str, object] = dict(attrs)
    content_type = (event.datacontenttype or "").split(";")[0].strip().lower()
    if event.data and (content_type == "application/json" or content_type.endswith("+json")):
        doc["data"] = json.loads(event.data)
    elif event.data:
        doc["data_base64"] = base64.b64encode(event.data).decode()
    return json.dumps(doc, separators=(",", ":")).encode()


def is_cloudevent(record: KafkaRecord) -> bool:
    """Whether the CloudEvents Kafka deserializer reads ``record`` as a CloudEvent: binary
    (a ``ce_specversion`` header) or structured (a CloudEvents ``content-type``)."""
    lowered = {k.lower(): v for k, v in record.headers.items()}
    return f"{CE_PREFIX}specversion" in lowered or lowered.get(CONTENT_TYPE, "").startswith(
        "application/cloudevents"
    )


def source_event(namespace: str, source_name: str, record: KafkaRecord) -> Envelope:
    """The CloudEvent the KafkaSource ``namespace/source_name`` delivers for ``record``.

    A record that is a CloudEvent is delivered as is; a record that only looks like one (a
    ``ce_specversion`` header but no ``ce_id``, say) is wrapped like any other record, as the
    dispatcher wraps whatever its deserializer could not read.
    """
    if is_cloudevent(record):
        try:
            return read_event(_http_headers(record.headers), record.value)
        except MalformedEventError:
            pass
    return _wrapped(namespace, source_name, record)


def _http_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(CE_PREFIX):
            out[f"ce-{lowered[len(CE_PREFIX) :]}"] = value
        elif lowered == CONTENT_TYPE:
            out["Content-Type"] = value
    return out


def _wrapped(namespace: str, source_name: str, record: KafkaRecord) -> Envelope:
    event = kafka_record_event(
        namespace,
        source_name,
        record.topic,
        record.value,
        offset=record.offset,
        partition=record.partition,
        key=record.key,
        timestamp=record.timestamp,
    )
    extensions = dict(event.extensions)
    content_type: str | None = None
    for name, value in record.headers.items():
        if name.lower() == CONTENT_TYPE:
            content_type = value.lower()
            continue
        extensions[f"kafkaheader{_extension_name(name)}"] = value
    return dataclasses.replace(event, datacontenttype=content_type, extensions=extensions)


def _extension_name(header: str) -> str:
    # CloudEvents extension names are lower-case letters and digits only.
    return re.sub(r"[^a-z0-9]", "", header.lower())
