"""The cluster behind the fake Argo server: submitted workflows finish, and the Argo Events
sensor publishes each completion to Kafka (the local broker's KafkaSource endpoint).

Configured by the ``complete`` key of the fake Argo's state (see :mod:`shared.local.fakes.argo`).
What happens to a matched submission, ``delay_s`` seconds after it was accepted:

1. the stored Workflow gets the ``status`` of the recorded template Workflow for its phase
   (``complete.templates[phase]``; a minimal one-node status when none is given), with the
   template's workflow name replaced by its own in node ids and names, ``phase`` set, and
   ``startedAt``/``finishedAt`` set to now; the workflow-controller's labels are added
   (``workflows.argoproj.io/completed``, ``…/phase``, ``…/workflow-template``) while the
   submission's labels, annotations and parameters are kept;
2. its completion is built with :func:`shared.argo.payload_from_workflow` — the payload our
   sensor manifest (``knative/argo-events/sensor.yaml``) publishes — and POSTed to
   ``complete.sink`` with ``X-Kafka-Key`` = the workflow uid, the sensor's partitioning key;
3. ``completions`` records ``{workflow, namespace, uid, template, phase, labels,
   sink_status}``
   (``sink_status`` is the sink's HTTP status, or the error text after 3 failed tries).

Source: the Argo Workflows ``Workflow`` schema (``status.phase``, ``status.nodes``) and the
workflow-controller's common labels (``pkg/apis/workflow/v1alpha1`` / ``workflow/common``).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.argo import payload_from_workflow
from shared.local.fakes.base import FakeStore

ANY = "*"
FINISHED = ("Succeeded", "Failed", "Error")
SINK_TRIES = 3


def matched_phase(rules: dict[str, str], workflow: dict[str, Any]) -> str | None:
    """The phase the first matching rule assigns to ``workflow``, or None.

    A rule key is a WorkflowTemplate name (``spec.workflowTemplateRef.name``), a label written
    ``key=value``, or ``*``; keys are tried in order.
    """
    template = ((workflow.get("spec") or {}).get("workflowTemplateRef") or {}).get("name")
    labels = (workflow.get("metadata") or {}).get("labels") or {}
    for key, phase in rules.items():
        label, _, value = key.partition("=")
        if key in (ANY, template) or (value and labels.get(label) == value):
            return phase if phase in FINISHED else None
    return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minimal_status(name: str, phase: str) -> dict[str, Any]:
    return {
        "nodes": {
            name: {"id": name, "name": name, "displayName": name, "type": "Pod", "phase": phase}
        }
    }


def finished_workflow(
    workflow: dict[str, Any], phase: str, template: dict[str, Any] | None
) -> dict[str, Any]:
    """``workflow`` (as submitted) finished with ``phase``, its status taken from ``template``.

    Args:
        workflow: the stored Workflow (``metadata.name``, ``labels``, ``spec``).
        phase: ``Succeeded``, ``Failed`` or ``Error``.
        template: a recorded Workflow whose ``status`` (nodes, artifacts, message) is reused.

    Returns:
        A new Workflow object; ``workflow`` is not modified.
    """
    done = copy.deepcopy(workflow)
    meta = done.setdefault("metadata", {})
    name = str(meta.get("name"))
    if template is not None:
        old = str((template.get("metadata") or {}).get("name") or "")
        text = json.dumps(template.get("status") or {}, default=str)
        status: dict[str, Any] = json.loads(text.replace(old, name) if old else text)
    else:
        status = _minimal_status(name, phase)
    now = _now()
    status.update(phase=phase, startedAt=meta.get("creationTimestamp") or now, finishedAt=now)
    if phase != "Succeeded":
        status.setdefault("message", "child failed")
    else:
        status.pop("message", None)
    done["status"] = status
    labels = meta.setdefault("labels", {})
    labels["workflows.argoproj.io/completed"] = "true"
    labels["workflows.argoproj.io/phase"] = phase
    ref = (done.get("spec") or {}).get("workflowTemplateRef") or {}
    if ref.get("name"):
        labels.setdefault("workflows.argoproj.io/workflow-template", str(ref["name"]))
    return done


def _publish(sink: str, workflow: dict[str, Any]) -> int | str:
    """POST the sensor's payload for ``workflow`` to ``sink``; the status or the last error."""
    body = json.dumps(payload_from_workflow(workflow)).encode()
    headers = {"Content-Type": "application/json", "X-Kafka-Key": workflow["metadata"]["uid"]}
    error = ""
    for attempt in range(SINK_TRIES):
        try:
            answer = httpx.post(sink, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if answer.status_code < 500:
                return answer.status_code
            error = f"HTTP {answer.status_code}"
        time.sleep(0.2 * (attempt + 1))
    return error


def _finish(store: FakeStore, key: str, phase: str) -> None:
    with store.lock:
        config = store.state.get("complete") or {}
        workflow = store.state["workflows"].get(key)
        if workflow is None or (workflow.get("status") or {}).get("phase") in FINISHED:
            return
        template = (config.get("templates") or {}).get(phase)
        done = finished_workflow(workflow, phase, template)
        store.state["workflows"][key] = done
        sink = config.get("sink")
    status: int | str = _publish(str(sink), done) if sink else "no sink configured"
    with store.lock:
        store.state.setdefault("completions", []).append(
            {
                "workflow": done["metadata"]["name"],
                "namespace": done["metadata"].get("namespace"),
                "uid": done["metadata"]["uid"],
                "template": ((done.get("spec") or {}).get("workflowTemplateRef") or {}).get("name"),
                "phase": phase,
                "labels": dict(done["metadata"].get("labels") or {}),
                "sink_status": status,
            }
        )


def finish_later(store: FakeStore, key: str) -> threading.Timer | None:
    """Schedule the workflow stored under ``key`` (``<namespace>/<name>``) to finish, when a
    ``complete.phases`` rule matches it; returns the started timer, or None."""
    with store.lock:
        config = store.state.get("complete") or {}
        workflow = store.state["workflows"].get(key)
        phase = matched_phase(dict(config.get("phases") or {}), workflow or {})
        delay = float(config.get("delay_s") or 0.0)
    if phase is None:
        return None
    timer = threading.Timer(delay, _finish, args=(store, key, phase))
    timer.daemon = True
    timer.start()
    return timer
