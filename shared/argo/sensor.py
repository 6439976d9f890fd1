"""The record our Argo Events Sensor publishes to Kafka, built in Python for tests and demos.

``knative/argo-events/sensor.yaml`` watches ``workflows.argoproj.io`` with a ``resource`` event
source (the event's ``body`` is the Workflow object), keeps events whose
``body.status.phase`` is Succeeded, Failed or Error, and publishes this JSON to the Kafka topic
``argo.workflows.completions`` with the workflow uid as the partitioning key (so every event of
one workflow lands on one partition, in order). Each line is one ``TriggerParameter`` of the
manifest's ``kafka.payload``:

==================  ====================================  ===========  ==================
dest                src.dataKey                           useRawData   default (``value``)
==================  ====================================  ===========  ==================
``uid``             ``body.metadata.uid``                 —            —
``workflowName``    ``body.metadata.name``                —            —
``namespace``       ``body.metadata.namespace``           —            —
``phase``           ``body.status.phase``                 —            —
``startedAt``       ``body.status.startedAt``             —            ``""``
``finishedAt``      ``body.status.finishedAt``            —            ``""``
``message``         ``body.status.message``               —            ``""``
``metadata``        ``body.metadata``                     true         —
``arguments``       ``body.spec.arguments``               true         ``{}``
``status``          ``body.status``                       true         —
==================  ====================================  ===========  ==================

Argo Events builds the payload with ``sjson`` (``ConstructPayload`` in argo-events
``pkg/sensors/triggers/params.go``): a string source becomes a JSON string; an object source
with ``useRawData: true`` is embedded as an object, without it as a JSON *string* of the object.
The parser (:mod:`shared.argo.decode`) accepts both, and a default ``""`` means "absent".
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

KAFKA_TOPIC = "argo.workflows.completions"

#: (dest, dataKey, useRawData, default) — the manifest's payload, in order.
SENSOR_PAYLOAD: tuple[tuple[str, str, bool, str | None], ...] = (
    ("uid", "body.metadata.uid", False, None),
    ("workflowName", "body.metadata.name", False, None),
    ("namespace", "body.metadata.namespace", False, None),
    ("phase", "body.status.phase", False, None),
    ("startedAt", "body.status.startedAt", False, ""),
    ("finishedAt", "body.status.finishedAt", False, ""),
    ("message", "body.status.message", False, ""),
    ("metadata", "body.metadata", True, None),
    ("arguments", "body.spec.arguments", True, "{}"),
    ("status", "body.status", True, None),
)


def _rfc3339(value: Any) -> Any:
    """Kubernetes writes ``metav1.Time`` as ``2006-01-02T15:04:05Z``; undo YAML's datetimes."""
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _rfc3339(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rfc3339(v) for v in value]
    return value


def _lookup(event: dict[str, Any], data_key: str) -> Any:
    node: Any = event
    for part in data_key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def payload_from_workflow(workflow: dict[str, Any]) -> dict[str, Any]:
    """The JSON object the sensor publishes for ``workflow`` (a Workflow object as a dict).

    Args:
        workflow: ``{"apiVersion", "kind", "metadata", "spec", "status"}``; timestamps may be
            strings or ``datetime`` (from ``yaml.safe_load``).

    Returns:
        The record body, ready for ``json.dumps`` (see the table in the module docstring).
    """
    event = {"body": _rfc3339(workflow)}
    payload: dict[str, Any] = {}
    for dest, data_key, raw, default in SENSOR_PAYLOAD:
        value = _lookup(event, data_key)
        if value is None:
            if default is None:
                continue  # Argo Events would fail this parameter; the sensor filter prevents it
            value = json.loads(default) if raw else default
        if not raw and not isinstance(value, str):
            value = json.dumps(value) if isinstance(value, dict | list) else str(value)
        payload[dest] = value
    return payload
