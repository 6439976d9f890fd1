"""Find the Argo ``Workflow`` inside whatever carried it, and bring it to one shape.

Accepted shapes (DESIGN §3, §12 item 2), tried in this order at every level:

1. a ``Workflow`` object (``kind: Workflow``, or ``metadata`` with ``status``/``spec``), as
   JSON or YAML — the Argo API and ``kubectl get wf -o yaml``;
2. the sensor payload of ``knative/argo-events/sensor.yaml`` (see :mod:`shared.argo.sensor`):
   top-level ``uid``/``workflowName``/``namespace``/``phase``/``startedAt``/``finishedAt``/
   ``message`` plus ``metadata``, ``status``, ``arguments`` or ``spec`` and ``artifacts``, each
   either an object or a JSON string (Argo Events writes a JSON string unless ``useRawData``);
3. an Argo Events envelope: ``eventBody`` or ``rawEvent`` holding base64 (or the text, or the
   object) of 1 or 2, or ``body``/``data`` holding them (the resource event source puts the
   Workflow under ``body``; the EventBus message puts the event under ``data``).

Text is read as JSON first, then YAML with timestamps left as text, so ``finishedAt`` stays
exactly as sent (PyYAML's SafeLoader would turn an unquoted ``2019-06-26T09:12:46Z`` into a
``datetime``).

Every document read here passes the input limits of :mod:`shared.runtime.limits` (depth, numbers,
strings; NUL becomes U+FFFD). YAML aliases (``*name``) are refused: a few hundred bytes of
nested aliases expand into gigabytes, and neither ``kubectl get -o yaml`` nor Argo writes them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import yaml

from shared.errors import InvalidDataError
from shared.runtime import limits

_MAX_DEPTH = 5
_SENSOR_KEYS = ("uid", "workflowUid", "workflowName", "phase", "finishedAt")
_ENVELOPE_KEYS = ("eventBody", "rawEvent", "body", "data")


class _AliasError(yaml.YAMLError):
    """A YAML alias: refused (see the module docstring)."""


class _TextTimestampLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as the text that was sent and refuses aliases."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            mark = event.start_mark
            raise _AliasError(
                f"YAML alias *{event.anchor} at line {mark.line + 1}, column {mark.column + 1}"
            )
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


_TextTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_document(text: str | bytes, field: str = "data") -> Any:
    """Parse JSON or YAML text; YAML timestamps stay strings; the limits of
    :mod:`shared.runtime.limits` apply to both.

    Raises:
        InvalidDataError: neither JSON nor YAML, a YAML alias, or a limit exceeded (``field``
            names the record, ``data``, or the member).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidDataError(f"{field} is not UTF-8 text: {exc}", field=field) from exc
    try:
        return limits.loads(text, field=field)
    except InvalidDataError as exc:
        if exc.details.get("limit"):
            raise
    try:
        doc = yaml.load(text, Loader=_TextTimestampLoader)  # a SafeLoader subclass: no object tags
    except _AliasError as exc:
        raise InvalidDataError(
            f"{field}: {exc}; the record must not use YAML aliases", field=field, limit="no aliases"
        ) from exc
    except RecursionError as exc:
        raise InvalidDataError(
            f"{field}: nested deeper than {limits.MAX_JSON_DEPTH} levels",
            field=field,
            limit=f"depth {limits.MAX_JSON_DEPTH}",
        ) from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise InvalidDataError(f"{field} is neither JSON nor YAML: {exc}", field=field) from exc
    return limits.clean(doc, field=field)


@dataclass
class Located:
    """A Workflow-shaped dict (``metadata``, ``spec.arguments``, ``status``), where it was
    found (a dotted path such as ``data.body``) and any top-level sensor ``artifacts``."""

    workflow: dict[str, Any]
    path: str
    extra_artifacts: list[dict[str, Any]] = field(default_factory=list)


def locate_workflow(doc: Any, path: str = "data", depth: int = 0) -> Located:
    """Find the Workflow in ``doc`` (any accepted shape; see the module docstring).

    Raises:
        InvalidDataError: nothing Workflow-like is found; ``field`` names where a workflow uid
            was expected (``data.metadata.uid``), or the member whose type is wrong.
    """
    if not isinstance(doc, dict):
        raise InvalidDataError(
            f"{path}: expected an Argo Workflow object, sensor payload or Argo Events envelope "
            f"(a JSON/YAML object), got {type(doc).__name__}",
            field=path,
        )
    if depth <= _MAX_DEPTH:
        if _is_workflow(doc):
            return Located(workflow=doc, path=path)
        if any(doc.get(key) not in (None, "") for key in _SENSOR_KEYS):
            return _from_sensor_payload(doc, path)
        for key in _ENVELOPE_KEYS:
            inner = doc.get(key)
            if inner in (None, ""):
                continue
            decoded = _coerce_document(inner, f"{path}.{key}", allow_base64=True)
            if isinstance(decoded, dict):
                return locate_workflow(decoded, f"{path}.{key}", depth + 1)
    raise InvalidDataError(
        f"{path}: no Argo workflow found: expected metadata.uid (a Workflow object), a sensor "
        f"payload with uid/workflowName/phase, or an envelope with eventBody/rawEvent/body/data",
        field=f"{path}.metadata.uid",
    )


def _is_workflow(doc: dict[str, Any]) -> bool:
    if doc.get("kind") == "Workflow":
        return True
    return (
        isinstance(doc.get("metadata"), dict)
        and ("status" in doc or "spec" in doc)
        and not any(key in doc for key in _SENSOR_KEYS)
    )


def _from_sensor_payload(doc: dict[str, Any], path: str) -> Located:
    metadata = dict(_object(doc.get("metadata"), f"{path}.metadata"))
    status = dict(_object(doc.get("status"), f"{path}.status"))
    spec = dict(_object(doc.get("spec"), f"{path}.spec"))
    arguments = _object(doc.get("arguments"), f"{path}.arguments")
    if arguments:
        spec["arguments"] = arguments
    for target, names in (
        (
            metadata,
            {
                "uid": ("uid", "workflowUid"),
                "name": ("workflowName", "name"),
                "namespace": ("namespace",),
            },
        ),
        (
            status,
            {
                "phase": ("phase",),
                "startedAt": ("startedAt",),
                "finishedAt": ("finishedAt",),
                "message": ("message",),
            },
        ),
    ):
        for dest, sources in names.items():
            for source in sources:
                if doc.get(source) not in (None, ""):
                    target[dest] = doc[source]
                    break
    for key in ("labels", "annotations"):
        extra = _object(doc.get(key), f"{path}.{key}")
        if extra:
            metadata[key] = {**(metadata.get(key) or {}), **extra}
    artifacts = _coerce_document(doc.get("artifacts"), f"{path}.artifacts") or []
    if not isinstance(artifacts, list):
        raise InvalidDataError(
            f"{path}.artifacts: expected a list of artifacts, got {type(artifacts).__name__}",
            field=f"{path}.artifacts",
        )
    workflow = {"metadata": metadata, "spec": spec, "status": status}
    return Located(
        workflow=workflow, path=path, extra_artifacts=[a for a in artifacts if isinstance(a, dict)]
    )


def _object(value: Any, path: str) -> dict[str, Any]:
    decoded = _coerce_document(value, path)
    if decoded is None:
        return {}
    if not isinstance(decoded, dict):
        raise InvalidDataError(
            f"{path}: expected an object or a JSON string of one, got {type(decoded).__name__}",
            field=path,
        )
    return decoded


def _coerce_document(value: Any, path: str, *, allow_base64: bool = False) -> Any:
    """An object as is; a string as JSON, then (envelopes only) base64 of JSON/YAML."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value
    try:
        return limits.loads(value, field=path)
    except InvalidDataError as exc:
        if exc.details.get("limit"):
            raise
    if allow_base64:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = None
        if raw:
            try:
                return load_document(raw, path)
            except InvalidDataError as exc:
                if exc.details.get("limit"):
                    raise
        return load_document(value, path)
    raise InvalidDataError(
        f"{path}: expected an object or a JSON string of one, got text that is not JSON", field=path
    )
