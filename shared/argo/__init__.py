"""Argo workflows as run-complete sees them: parsing completions in all their real shapes,
run metadata, artifacts, and the Argo Events sensor mapping (DESIGN §3, §12 item 2).

Public API::

    parse_completion(data) -> WorkflowCompletion | UnfinishedWorkflow
    payload_from_workflow(workflow: dict) -> dict      # what the sensor publishes
    load_document(text) -> Any                         # JSON or YAML, timestamps kept as text
"""

from __future__ import annotations

from shared.argo.completion import parse_completion
from shared.argo.decode import load_document
from shared.argo.metadata import LABEL_PREFIX, PARAMETER_NAMES
from shared.argo.model import (
    FINISHED_PHASES,
    Artifact,
    RunMetadata,
    UnfinishedWorkflow,
    WorkflowCompletion,
)
from shared.argo.sensor import KAFKA_TOPIC, SENSOR_PAYLOAD, payload_from_workflow

__all__ = [
    "FINISHED_PHASES",
    "KAFKA_TOPIC",
    "LABEL_PREFIX",
    "PARAMETER_NAMES",
    "SENSOR_PAYLOAD",
    "Artifact",
    "RunMetadata",
    "UnfinishedWorkflow",
    "WorkflowCompletion",
    "load_document",
    "parse_completion",
    "payload_from_workflow",
]
