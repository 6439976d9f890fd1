"""A fake Argo Workflows server, optionally emulating the cluster and the Argo Events sensor.

State (``GET``/``PUT /_fake/state``)::

    {"workflows": {"<namespace>/<name>": <Workflow object>}, "submissions": [<request body>],
     "complete": {"sink": "<broker>/_mesh/kafka/argo.workflows.completions",
                  "phases": {"<template name>" | "<label>=<value>" | "*": "Succeeded"|"Failed"},
                  "delay_s": 0.5,
                  "templates": {"Succeeded": <Workflow>, "Failed": <Workflow>}},
     "completions": [{"workflow", "namespace", "uid", "template", "phase", "labels",
                      "sink_status"}]}

Routes follow the Argo Server API (``WorkflowService``): ``GET /api/v1/workflows/{ns}/{name}``
answers the Workflow or 404 with the grpc-gateway error body
``{"code": 5, "message": "workflows.argoproj.io \\"<name>\\" not found"}``;
``POST /api/v1/workflows/{ns}/submit`` takes ``{"resourceKind", "resourceName",
"submitOptions": {"generateName", "labels", "annotations", "parameters": ["k=v"]}}`` (labels
and annotations in Argo's ``"k=v,k=v"`` string format), records the body in
``submissions`` and answers the created Workflow (also stored, phase ``Pending``). A body
without ``resourceKind``/``resourceName`` is answered 400 with grpc code 3; a
``submitOptions.name`` that already exists in the namespace is answered 409 with grpc code 6
(``AlreadyExists``: ``workflows.argoproj.io "<name>" already exists``), as the Argo Server
answers Kubernetes' refusal, and nothing is recorded.

Cluster emulation (:mod:`shared.local.fakes.argo_cluster`): when ``complete`` is set, a submitted
workflow whose template name, or one of whose labels (``key=value``), is a key of ``phases``
(``*`` matches any) finishes ``delay_s`` seconds later with that phase — the stored Workflow
gets the status of the recorded template Workflow for that phase, rewritten to its own name
and times — and its completion is POSTed to ``sink`` exactly as our Argo Events sensor
publishes it (:func:`shared.argo.payload_from_workflow`, Kafka key = the workflow uid). A
workflow no key matches stays ``Pending``, like one the cluster has not scheduled.

Artifacts: ``GET /artifact-files/...`` serves the state's ``artifacts`` as the Argo Server's
``ArtifactService`` does (:mod:`shared.local.fakes.argo_artifacts`).

Faults (``POST /_fake/faults``, :mod:`shared.local.fakes.base`): an armed status is answered with
the grpc-gateway body ``{"code": <gRPC code>, "message", "details": []}`` (502/503 → 14
``UNAVAILABLE``, 429 → 8 ``RESOURCE_EXHAUSTED``); a faulted submit creates no workflow.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import flask

from shared.local.fakes.argo_artifacts import install_artifact_routes
from shared.local.fakes.argo_cluster import finish_later
from shared.local.fakes.base import create_fake_app, grpc_code, json_answer

DEFAULT_STATE: dict[str, Any] = {"workflows": {}, "submissions": []}


def _labels(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    pairs = [p.split("=", 1) for p in str(raw or "").split(",") if "=" in p]
    return {k.strip(): v.strip() for k, v in pairs}


def fault_body(status: int) -> dict[str, Any]:
    """The Argo Server's grpc-gateway error body for an injected HTTP ``status``."""
    message = f"the Argo Server answered {status} (a fault injected by the fake)"
    return {"code": grpc_code(status), "message": message, "details": []}


def create_app(initial_state: dict[str, Any] | None = None) -> flask.Flask:
    """A fake Argo server starting from ``initial_state`` (see module docstring)."""
    app, store = create_fake_app("fake_argo", DEFAULT_STATE, initial_state, fault_body=fault_body)
    install_artifact_routes(app, store)

    @app.get("/api/v1/workflows/<namespace>/<name>")
    def get_workflow(namespace: str, name: str) -> flask.Response:
        with store.lock:
            workflow = store.state["workflows"].get(f"{namespace}/{name}")
        if workflow is None:
            return json_answer(
                404,
                {"code": 5, "message": f'workflows.argoproj.io "{name}" not found', "details": []},
            )
        return json_answer(200, workflow)

    @app.post("/api/v1/workflows/<namespace>/submit")
    def submit(namespace: str) -> flask.Response:
        body = flask.request.get_json(silent=True)
        if (
            not isinstance(body, dict)
            or not body.get("resourceKind")
            or not body.get("resourceName")
        ):
            return json_answer(
                400,
                {"code": 3, "message": "resourceKind and resourceName are required", "details": []},
            )
        options = body.get("submitOptions") or {}
        parameters = [p.split("=", 1) for p in options.get("parameters") or [] if "=" in p]
        with store.lock:
            if f"{namespace}/{options.get('name')}" in store.state.setdefault("workflows", {}):
                return json_answer(
                    409,
                    {
                        "code": 6,
                        "message": f'workflows.argoproj.io "{options["name"]}" already exists',
                        "details": [],
                    },
                )
            submissions = store.state.setdefault("submissions", [])
            submissions.append(body)
            seq = len(submissions)
            prefix = options.get("generateName") or f"{body['resourceName']}-"
            suffix = hashlib.sha256(f"{namespace}/{prefix}{seq}".encode()).hexdigest()[:5]
            name = options.get("name") or f"{prefix}{suffix}"
            workflow = {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "generateName": prefix,
                    "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"argo/{namespace}/{name}")),
                    "labels": _labels(options.get("labels")),
                    "annotations": _labels(options.get("annotations")),
                    "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                },
                "spec": {
                    "workflowTemplateRef": {
                        "name": body["resourceName"],
                        "clusterScope": body["resourceKind"] == "ClusterWorkflowTemplate",
                    },
                    "arguments": {"parameters": [{"name": k, "value": v} for k, v in parameters]},
                },
                "status": {"phase": "Pending"},
            }
            store.state.setdefault("workflows", {})[f"{namespace}/{name}"] = workflow
            answer = json_answer(200, workflow)
        finish_later(store, f"{namespace}/{name}")
        return answer

    return app
