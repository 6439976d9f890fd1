"""HttpxArgo: the Argo Workflows server API (``WorkflowService``) over httpx.

Two calls, each from the Argo Server API reference (``/api/v1/workflows``):

* ``GET /api/v1/workflows/{namespace}/{name}`` → the Workflow object; 404 (grpc code 5,
  ``workflows.argoproj.io "<name>" not found``) → None, a value;
* ``POST /api/v1/workflows/{namespace}/submit`` with
  ``{"resourceKind": "WorkflowTemplate", "resourceName": <template>, "submitOptions": {...}}``
  → the created Workflow. ``submitOptions`` uses Argo's *string* formats (``SubmitOpts`` in
  ``pkg/apis/workflow/v1alpha1``): ``parameters`` is a list of ``"name=value"`` strings;
  ``labels`` and ``annotations`` are one ``"k1=v1,k2=v2"`` string each; ``name`` sets the
  Workflow's ``metadata.name``.

A submission under a deterministic ``name`` (:func:`shared.argo.workflow.workflow_name`, from
the effect's idempotency key) is idempotent: a repeat is refused by Kubernetes with
``AlreadyExists`` (grpc code 6, HTTP 409, ``workflows.argoproj.io "<name>" already exists``)
and :meth:`HttpxArgo.submit` answers the existing Workflow instead, so a worker that dies after
Argo accepted the submission and before recording it never starts a second workflow (issue 10).
``generateName`` alone gets a new random name on every call and cannot be deduplicated.

Errors follow :mod:`shared.adapters.http`: 5xx/timeouts → ``UpstreamError`` (503), 429 →
``RateLimitedError``, other 4xx → ``UpstreamRejectedError`` (422). Requests send
``Authorization: Bearer <argo_token>`` when a token is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx

from shared.adapters.http import bearer_client, body_json, raise_for_status, send
from shared.argo.workflow import SubmittedWorkflow
from shared.errors import UpstreamError
from shared.settings import Settings

SERVICE = "Argo"


def argo_pairs(values: Mapping[str, str], *, field: str) -> str:
    """Argo's ``"k1=v1,k2=v2"`` string for labels or annotations (keys in the given order).

    Raises:
        ValueError: a key or value contains ``,`` or a key contains ``=`` — Argo splits on
            them, so the string would say something else (a programming error, not input).
    """
    parts = []
    for key, value in values.items():
        if "," in key or "=" in key or "," in str(value):
            raise ValueError(f"{field}[{key!r}]: Argo's k=v,k=v format cannot carry ',' or '='")
        parts.append(f"{key}={value}")
    return ",".join(parts)


def submit_body(
    template: str,
    *,
    parameters: Mapping[str, str],
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    generate_name: str | None,
    kind: Literal["WorkflowTemplate", "ClusterWorkflowTemplate"] = "WorkflowTemplate",
    name: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/workflows/{ns}/submit`` (see module docstring)."""
    options: dict[str, Any] = {"parameters": [f"{k}={v}" for k, v in parameters.items()]}
    if labels:
        options["labels"] = argo_pairs(labels, field="labels")
    if annotations:
        options["annotations"] = argo_pairs(annotations, field="annotations")
    if name:
        options["name"] = name
    elif generate_name:
        options["generateName"] = generate_name
    return {"resourceKind": kind, "resourceName": template, "submitOptions": options}


class HttpxArgo:
    """The Argo Workflows server API.

    Args:
        base_url: the Argo Server, e.g. ``https://argo.example.com:2746`` (no trailing path).
        token: a bearer token, or None.
        timeout_s: per-request timeout in seconds.
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = bearer_client(
            base_url, token=token, timeout_s=timeout_s, transport=transport
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpxArgo:
        """Build from ``argo_server_url``, ``argo_token`` and ``argo_timeout_s``.

        Raises:
            UpstreamError: no ``argo_server_url`` is configured (503: configuration may arrive).
        """
        if not settings.argo_server_url:
            raise UpstreamError("argo_server_url is not configured", field="argo_server_url")
        token = settings.argo_token.get_secret_value() if settings.argo_token else None
        return cls(settings.argo_server_url, token=token, timeout_s=settings.argo_timeout_s)

    def get_workflow(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Workflow object ``namespace/name``, or None when Argo answers 404.

        Raises:
            UpstreamError, RateLimitedError, UpstreamRejectedError: see module docstring.
        """
        resp = send(self._client, "GET", f"/api/v1/workflows/{namespace}/{name}", service=SERVICE)
        if resp.status_code == 404:
            return None
        raise_for_status(resp, service=SERVICE)
        body = body_json(resp)
        if not isinstance(body, dict):
            raise UpstreamError("Argo answered a workflow that is not a JSON object")
        return body

    def submit(
        self,
        namespace: str,
        template: str,
        *,
        parameters: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        generate_name: str | None = None,
        kind: Literal["WorkflowTemplate", "ClusterWorkflowTemplate"] = "WorkflowTemplate",
        name: str | None = None,
    ) -> SubmittedWorkflow:
        """Submit a Workflow from ``template`` in ``namespace``.

        Args:
            parameters: ``spec.arguments.parameters`` values, by name.
            labels, annotations: metadata of the created Workflow.
            generate_name: the name prefix (Argo adds a random suffix); ignored with ``name``.
            name: a deterministic ``metadata.name``: a repeat answers 409 ``AlreadyExists`` and
                the existing Workflow is returned (the submission is idempotent).

        Raises:
            UpstreamError, RateLimitedError, UpstreamRejectedError: see module docstring
            (an unknown template is a 4xx → ``UpstreamRejectedError``).
        """
        body = submit_body(
            template,
            parameters=parameters or {},
            labels=labels or {},
            annotations=annotations or {},
            generate_name=generate_name,
            kind=kind,
            name=name,
        )
        resp = send(
            self._client,
            "POST",
            f"/api/v1/workflows/{namespace}/submit",
            service=SERVICE,
            json=body,
        )
        if resp.status_code == 409 and name:
            existing = self.get_workflow(namespace, name)
            if existing is None:  # deleted since: the retry submits afresh
                raise UpstreamError(f"Argo: workflow {namespace}/{name} exists and vanished")
            return _submitted(existing, namespace)
        raise_for_status(resp, service=SERVICE)
        return _submitted(body_json(resp), namespace)


def _submitted(created: Any, namespace: str) -> SubmittedWorkflow:
    """A Workflow object as :class:`SubmittedWorkflow`.

    Raises:
        UpstreamError: the object has no ``metadata.name``.
    """
    metadata = created.get("metadata") if isinstance(created, dict) else None
    if not isinstance(metadata, dict) or not metadata.get("name"):
        raise UpstreamError("Argo answered a submission without metadata.name")
    status = created.get("status") if isinstance(created, dict) else None
    return SubmittedWorkflow(
        name=str(metadata["name"]),
        namespace=str(metadata.get("namespace") or namespace),
        uid=metadata.get("uid"),
        phase=status.get("phase") if isinstance(status, dict) else None,
    )
