"""Turn a completion record (any accepted shape, see :mod:`shared.argo.decode`) into a
:class:`~shared.argo.model.WorkflowCompletion`, or an
:class:`~shared.argo.model.UnfinishedWorkflow` when the workflow is still Pending/Running.

Artifacts are read from ``status.nodes[*].outputs.artifacts`` (the Argo ``NodeStatus`` schema).
An s3 artifact that carries only its ``key`` lives in the workflow's artifact repository, so
``bucket`` and ``endpoint`` fall back to ``status.artifactRepositoryRef.artifactRepository.s3``
(argo-workflows ``ArtifactRepositoryRefStatus``; see
corpus/argo/workflow.succeeded.artgc-mixed-s3.yaml). A Retry node repeats its child's outputs,
so artifacts are deduplicated by location.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.argo.decode import Located, load_document, locate_workflow
from shared.argo.metadata import run_metadata
from shared.argo.model import (
    FINISHED_PHASES,
    Artifact,
    UnfinishedWorkflow,
    WorkflowCompletion,
    as_text,
)
from shared.argo.pods import pod_name
from shared.errors import InvalidDataError

# Caps on what a completion may store (DESIGN §11). Kubernetes validates every Workflow it
# stores against the first three (apimachinery: a qualified label key is a 253-character DNS
# prefix, "/" and a 63-character name; a label value is at most 63 characters; annotations total
# 256 KiB), so a record beyond them was never a real Workflow and is refused (422 naming the
# field). ``status.message`` has no such bound; it is cut to MESSAGE_MAX_CHARS.
LABEL_KEY_MAX_CHARS = 253 + 1 + 63
LABEL_VALUE_MAX_CHARS = 63
ANNOTATIONS_MAX_BYTES = 256 * 1024
MESSAGE_MAX_CHARS = 64 * 1024

# Artifact kinds with a bucket-like container, and the URL scheme for each.
_BUCKET_KINDS = {
    "s3": ("bucket", "s3"),
    "gcs": ("bucket", "gcs"),
    "oss": ("bucket", "oss"),
    "azure": ("container", "azure"),
}


def parse_completion(data: bytes | str | dict[str, Any]) -> WorkflowCompletion | UnfinishedWorkflow:
    """Parse one completion record.

    Args:
        data: the raw record (JSON or YAML bytes/text) or an already parsed document.

    Returns:
        A :class:`WorkflowCompletion` when ``status.phase`` is Succeeded/Failed/Error, else an
        :class:`UnfinishedWorkflow` (a value, not an error: the caller records nothing).

    Raises:
        InvalidDataError: not JSON/YAML, no workflow found, a member of the wrong type, or a
            finished workflow without ``metadata.uid``; ``field`` names the path under ``data``.
    """
    doc = data if isinstance(data, dict) else load_document(data)
    if isinstance(doc, str):
        # A JSON string holding the document (structured-mode CloudEvent with text data).
        doc = load_document(doc)
    located = locate_workflow(doc)
    workflow, path = located.workflow, located.path
    metadata = _mapping(workflow.get("metadata"), f"{path}.metadata")
    status = _mapping(workflow.get("status"), f"{path}.status")
    uid = as_text(metadata.get("uid"))
    name = as_text(metadata.get("name"))
    phase = as_text(status.get("phase")) or ""
    if phase not in FINISHED_PHASES:
        return UnfinishedWorkflow(uid=uid, name=name, phase=phase)
    if uid is None:
        raise InvalidDataError(
            f"{path}.metadata.uid: a finished workflow must carry its uid",
            field=f"{path}.metadata.uid",
        )
    labels = _labels(metadata.get("labels"), f"{path}.metadata.labels")
    annotations = _annotations(metadata.get("annotations"), f"{path}.metadata.annotations")
    message = as_text(status.get("message"))
    if message is not None and len(message) > MESSAGE_MAX_CHARS:
        message = message[:MESSAGE_MAX_CHARS] + " … (truncated)"
    parameters = _parameters(workflow, path)
    return WorkflowCompletion(
        uid=uid,
        name=name,
        namespace=as_text(metadata.get("namespace")),
        phase=phase,
        finished_at=as_text(status.get("finishedAt")) or "",
        started_at=as_text(status.get("startedAt")),
        message=message,
        labels=labels,
        annotations=annotations,
        parameters=parameters,
        artifacts=_artifacts(located, status, name),
        metadata=run_metadata(parameters, labels, annotations),
    )


def _mapping(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidDataError(
            f"{path}: expected an object, got {type(value).__name__}", field=path
        )
    return value


def _strings(value: Any, path: str) -> dict[str, str]:
    return {
        str(k): text for k, v in _mapping(value, path).items() if (text := as_text(v)) is not None
    }


def _labels(value: Any, path: str) -> dict[str, str]:
    labels = _strings(value, path)
    for key, text in labels.items():
        if len(key) > LABEL_KEY_MAX_CHARS or len(text) > LABEL_VALUE_MAX_CHARS:
            raise InvalidDataError(
                f"{path}.{key[:80]}: a label key is at most {LABEL_KEY_MAX_CHARS} characters and "
                f"a value at most {LABEL_VALUE_MAX_CHARS} (Kubernetes), got {len(key)} and "
                f"{len(text)}",
                field=f"{path}.{key[:80]}",
                limit=f"{LABEL_VALUE_MAX_CHARS} characters",
            )
    return labels


def _annotations(value: Any, path: str) -> dict[str, str]:
    annotations = _strings(value, path)
    size = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        raise InvalidDataError(
            f"{path}: annotations total {size} bytes; Kubernetes allows {ANNOTATIONS_MAX_BYTES}",
            field=path,
            limit=f"{ANNOTATIONS_MAX_BYTES} bytes",
        )
    return annotations


def _parameters(workflow: dict[str, Any], path: str) -> dict[str, str]:
    spec = _mapping(workflow.get("spec"), f"{path}.spec")
    arguments = _mapping(spec.get("arguments"), f"{path}.spec.arguments")
    items = arguments.get("parameters") or []
    if not isinstance(items, list):
        raise InvalidDataError(
            f"{path}.spec.arguments.parameters: expected a list of "
            f"{{name, value}}, got {type(items).__name__}",
            field=f"{path}.spec.arguments.parameters",
        )
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, dict) and as_text(item.get("name")):
            value = item.get("value", item.get("default"))
            out[str(item["name"])] = "" if value is None else str(value)
    return out


def _repository_s3(status: dict[str, Any]) -> dict[str, Any]:
    ref = status.get("artifactRepositoryRef")
    repo = ref.get("artifactRepository") if isinstance(ref, dict) else None
    s3 = repo.get("s3") if isinstance(repo, dict) else None
    return s3 if isinstance(s3, dict) else {}


def _artifact(
    raw: dict[str, Any], node_id: str | None, default_s3: dict[str, Any], pod: str | None = None
) -> Artifact | None:
    name = as_text(raw.get("name"))
    if name is None:
        return None
    node_id = node_id or as_text(raw.get("nodeId") or raw.get("node_id"))
    fields: dict[str, Any] = {
        "name": name,
        "artifact_name": name,
        "node_id": node_id,
        "pod_name": pod,
    }
    for kind, (container, scheme) in _BUCKET_KINDS.items():
        spec = raw.get(kind)
        if not isinstance(spec, dict):
            continue
        fallback = default_s3 if kind == "s3" else {}
        bucket = as_text(spec.get(container)) or as_text(fallback.get("bucket"))
        key = as_text(spec.get("key") or spec.get("blob"))
        fields.update(
            bucket=bucket,
            key=key,
            endpoint=as_text(spec.get("endpoint")) or as_text(fallback.get("endpoint")),
            url=f"{scheme}://{bucket}/{key}" if bucket and key else None,
        )
        return Artifact(**fields)
    for kind in ("http", "artifactory"):
        spec = raw.get(kind)
        if isinstance(spec, dict) and as_text(spec.get("url")):
            return Artifact(**fields, url=as_text(spec.get("url")))
    return Artifact(**fields)


def _artifacts(
    located: Located, status: dict[str, Any], workflow_name: str | None
) -> list[Artifact]:
    default_s3 = _repository_s3(status)
    found: list[Artifact] = []
    nodes = status.get("nodes") or {}
    if isinstance(nodes, dict):
        for node_id, node in nodes.items():
            outputs = node.get("outputs") if isinstance(node, dict) else None
            raws = outputs.get("artifacts") if isinstance(outputs, dict) else None
            template = as_text(node.get("templateName")) if isinstance(node, dict) else None
            pod = pod_name(workflow_name, str(node_id), template) if workflow_name else None
            for raw in raws if isinstance(raws, list) else []:
                if isinstance(raw, dict) and (art := _artifact(raw, str(node_id), default_s3, pod)):
                    found.append(art)
    for raw in located.extra_artifacts:
        if art := _artifact(raw, None, default_s3):
            found.append(art)
    unique: list[Artifact] = []
    seen: set[tuple[str, str | None, str | None]] = set()
    for art in found:
        where = (
            (art.artifact_name, art.bucket, art.key)
            if art.key
            else (art.artifact_name, art.node_id, art.url)
        )
        if where not in seen:
            seen.add(where)
            unique.append(art)
    counts = Counter(a.artifact_name for a in unique)
    return [
        a
        if counts[a.artifact_name] == 1 or not a.node_id
        else a.model_copy(update={"name": f"{a.node_id}/{a.artifact_name}"})
        for a in unique
    ]
