"""CloudEvents on the wire as the Knative data plane sends them, and the events sources make.

* :func:`binary_request` writes an event in the HTTP binary content mode (CloudEvents HTTP
  binding 1.0 §3.1): every attribute and extension as a ``ce-<name>`` header, the data bytes
  untouched as the body, and ``Content-Type`` only when the event has a ``datacontenttype``
  (a KafkaSource record often has none).
* :func:`kafka_record_event` wraps a Kafka record as a KafkaSource does (Knative
  eventing-kafka-broker): type ``dev.knative.kafka.event``, source
  ``/apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>``, subject
  ``partition:<p>#<offset>``, id ``partition:<p>/offset:<offset>``, extensions ``key`` and
  ``partitionkey`` when the record has a key, ``time`` = the record timestamp, and **no**
  ``datacontenttype``.
* :func:`ping_event` is a PingSource tick (type ``dev.knative.sources.ping``, source
  ``/apis/v1/namespaces/<ns>/pingsources/<name>``);
* :func:`is_wake_up` tells the tick and the scheduler's ``timers.due`` apart from work: the mesh
  does not count them as activity when it decides it is idle.

All functions are pure.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from shared.models.events import TIMERS_DUE
from shared.runtime.envelope import Envelope, header_value

KAFKA_EVENT_TYPE = "dev.knative.kafka.event"
PING_EVENT_TYPE = "dev.knative.sources.ping"
#: Events that only wake a function to look for due work: the PingSource tick (it wakes the
#: scheduler) and the scheduler's ``timers.due`` (it wakes a timer owner). Neither is activity
#: for the mesh's idleness; what the woken function then publishes is. An owner woken while its
#: waits are still waiting (a reconcile that finds CI pending) therefore leaves the mesh idle.
WAKE_UP_TYPES = frozenset({PING_EVENT_TYPE, TIMERS_DUE})


def is_wake_up(event: Envelope) -> bool:
    """Whether ``event`` is a tick or a ``timers.due`` (see :data:`WAKE_UP_TYPES`)."""
    return event.type in WAKE_UP_TYPES


def attributes(event: Envelope) -> dict[str, str]:
    """Every context attribute and extension of ``event`` as strings (for filters and logs)."""
    attrs = {"specversion": "1.0"}
    attrs.update({k: str(v) for k, v in event.attributes().items()})
    return attrs


def binary_request(event: Envelope) -> tuple[dict[str, str], bytes]:
    """Headers and body of ``event`` in binary content mode (data bytes exactly as received)."""
    headers = {
        f"ce-{name}": header_value(value)
        for name, value in attributes(event).items()
        if name != "datacontenttype"
    }
    if event.datacontenttype:
        headers["Content-Type"] = event.datacontenttype
    return headers, event.data


def with_extensions(event: Envelope, extra: dict[str, str]) -> Envelope:
    """A copy of ``event`` with ``extra`` extensions added (e.g. the dead-letter error)."""
    return dataclasses.replace(event, extensions={**event.extensions, **extra})


def kafka_record_event(
    namespace: str,
    source_name: str,
    topic: str,
    value: bytes,
    *,
    offset: int,
    partition: int = 0,
    key: str | None = None,
    timestamp: datetime | None = None,
) -> Envelope:
    """The CloudEvent a KafkaSource delivers for one record (value bytes as ``data``)."""
    extensions = {"key": key, "partitionkey": key} if key is not None else {}
    return Envelope(
        id=f"partition:{partition}/offset:{offset}",
        source=f"/apis/v1/namespaces/{namespace}/kafkasources/{source_name}#{topic}",
        type=KAFKA_EVENT_TYPE,
        subject=f"partition:{partition}#{offset}",
        time=(timestamp or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        datacontenttype=None,
        data=value,
        extensions=extensions,
    )


def ping_event(
    namespace: str,
    source_name: str,
    data: str | None,
    content_type: str | None,
    now: datetime | None = None,
) -> Envelope:
    """One PingSource tick (a fresh id each time; ``data`` as configured)."""
    return Envelope(
        id=str(uuid.uuid4()),
        source=f"/apis/v1/namespaces/{namespace}/pingsources/{source_name}",
        type=PING_EVENT_TYPE,
        time=(now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        datacontenttype=content_type if data else None,
        data=(data or "").encode(),
    )
