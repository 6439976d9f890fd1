"""Strict offline JSON-Schema validation of every object a kustomize build renders.

Where each kind's schema comes from (one per kind, loaded once per process):

* **Built-in Kubernetes kinds** (core ``v1``, ``batch``, ``rbac.authorization.k8s.io``,
  ``networking.k8s.io``, …): the ``*-local-strict`` schemas of the ``kubernetes-validate``
  package for :data:`KUBERNETES_VERSION`, with their shared ``_definitions.json`` in a
  ``referencing`` registry (draft 2020-12, as the package itself validates them). "Strict"
  means every object closes with ``additionalProperties: false``.
* **Custom resources**: ``tests/fixtures/k8s-schemas/<group>/<kind>_<version>.json`` (the
  datreeio/CRDs-catalog layout; provenance in that folder's README), read as the OpenAPI v3
  (draft-4 dialect) schemas they are, made strict by :func:`strict`, plus ``metadata``
  against the built-in strict ``ObjectMeta`` (a CRD schema says only ``type: object``).
* **Argo Events** (``EventBus``, ``EventSource``, ``Sensor``): the CRDs preserve the whole
  ``spec`` (the API server checks nothing in it), and the controller decodes it with Go's
  ``encoding/json``, which silently drops unknown fields, so a typo there is a setting that
  never takes effect. We validate against the JSON Schema the Argo Events project generates
  from those Go types (``argoproj.io/argo-events_schema.json``), made strict the same way.

``x-kubernetes-preserve-unknown-fields: true`` is honoured (the API server keeps unknown fields
there, e.g. ``delivery.timeout`` on Broker and Trigger, whose CRD lags behind the Go type), but
never silently: :func:`preserved_fields` lists every field of an object that only passes thanks
to it, and :data:`PRESERVED` documents, per kind, the ones our manifests may rely on. Anything
else under a preserved object (``spec.subscrber`` on a Trigger, whose whole ``spec`` is
preserved) is reported by :func:`findings` like any schema error.

Errors: :class:`MissingSchemaError` for a kind that has no schema and is not in
:data:`WITHOUT_SCHEMA`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry
from referencing.jsonschema import DRAFT7, DRAFT202012

KUBERNETES_VERSION = "1.33.0"
"""The Kubernetes release whose built-in schemas every object is checked against."""

SCHEMAS = Path(__file__).resolve().parent.parent / "fixtures" / "k8s-schemas"
ARGO_EVENTS_SCHEMA = SCHEMAS / "argoproj.io" / "argo-events_schema.json"
ARGO_EVENTS_KINDS = frozenset({"EventBus", "EventSource", "Sensor"})

WITHOUT_SCHEMA: dict[tuple[str, str], str] = {}
"""(apiVersion, kind) → why it has no schema. Such objects get only the ``metadata`` check.
Empty: every kind our builds render has a schema."""

PRESERVED: dict[tuple[str, str], dict[str, str]] = {
    ("eventing.knative.dev/v1", "Trigger"): {
        "spec.delivery.timeout": (
            "the CRD's DeliverySpec lists no `timeout` (the Go type has it, behind the "
            "`delivery-timeout` feature flag); `spec` and `spec.delivery` preserve it"
        ),
        "spec.delivery.retryAfterMax": (
            "likewise missing from the CRD (Go type: behind the `delivery-retryafter` feature "
            "flag); preserved by `spec.delivery`"
        ),
        "spec.filters[].exact.*": "the keys are CloudEvent attribute names, free by design",
        "spec.filters[].prefix.*": "the keys are CloudEvent attribute names, free by design",
        "spec.filters[].suffix.*": "the keys are CloudEvent attribute names, free by design",
        "spec.filters[].any[].*": (
            "nested filter expressions are recursive, which a structural schema cannot say; "
            "tests/unit/knative/test_manifest_schemas.py checks them (one dialect each)"
        ),
        "spec.filters[].all[].*": "nested filter expressions, as for `any`",
        "spec.filters[].not.*": "a nested filter expression, as for `any`",
    },
    ("eventing.knative.dev/v1", "Broker"): {
        "spec.delivery.timeout": "as for Trigger: `spec.delivery` preserves it",
        "spec.delivery.retryAfterMax": "as for Trigger: `spec.delivery` preserves it",
    },
    ("sources.knative.dev/v1", "SinkBinding"): {
        "spec.subject.selector.matchLabels.*": "a label map: the keys are label names",
    },
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): {
        "spec.config.*": "Kafka topic settings (retention.ms, cleanup.policy, …), free by design",
    },
    ("kafka.strimzi.io/v1", "KafkaTopic"): {
        "spec.config.*": "Kafka topic settings (retention.ms, cleanup.policy, …), free by design",
    },
}
"""(apiVersion, kind) → field → why we rely on ``x-kubernetes-preserve-unknown-fields`` there.
A field is a dotted path with list indices as ``[]``; a trailing ``.*`` covers everything
below the prefix. Parts listed in :data:`KUBERNETES_TYPED` need no entry here."""

_POD = "spec.template.spec"
KUBERNETES_TYPED: dict[tuple[str, str], dict[str, str]] = {
    ("serving.knative.dev/v1", "Service"): {
        f"{_POD}.affinity": "Affinity",
        f"{_POD}.containers[].env[].valueFrom.fieldRef": "ObjectFieldSelector",
        f"{_POD}.containers[].env[].valueFrom.resourceFieldRef": "ResourceFieldSelector",
        f"{_POD}.dnsConfig": "PodDNSConfig",
        f"{_POD}.hostAliases[]": "HostAlias",
        f"{_POD}.initContainers[]": "Container",
        f"{_POD}.securityContext": "PodSecurityContext",
        f"{_POD}.tolerations[]": "Toleration",
        f"{_POD}.topologySpreadConstraints[]": "TopologySpreadConstraint",
        f"{_POD}.volumes[].csi": "CSIVolumeSource",
        f"{_POD}.volumes[].emptyDir": "EmptyDirVolumeSource",
        f"{_POD}.volumes[].hostPath": "HostPathVolumeSource",
        f"{_POD}.volumes[].image": "ImageVolumeSource",
        f"{_POD}.volumes[].persistentVolumeClaim": "PersistentVolumeClaimVolumeSource",
    },
}
"""(apiVersion, kind) → preserved part → the ``io.k8s.api.core.v1`` type it is checked against.

Knative Serving's CRD leaves the PodSpec parts that sit behind its ``kubernetes.podspec-*``
feature flags open (``x-kubernetes-preserve-unknown-fields``); its webhook decodes them into
the Kubernetes types. So instead of trusting the CRD there, each such part of an object is
validated against that type's strict schema for :data:`KUBERNETES_VERSION`."""


class MissingSchemaError(LookupError):
    """A kind has no schema and is not listed in :data:`WITHOUT_SCHEMA`."""


@dataclass(frozen=True)
class Finding:
    """One problem with one object.

    Attributes:
        path: where, as a dotted JSON path with list indices (``spec.filters[0].any``);
            empty for the object itself.
        message: what is wrong and what was expected.
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<object>'}: {self.message}"


def json_path(parts: Iterable[str | int]) -> str:
    """``["spec", "filters", 0, "any"]`` → ``spec.filters[0].any``."""
    return "".join(
        f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(parts)
    )


def strict(schema: Any) -> Any:
    """An OpenAPI v3 schema (as in a CRD) as a JSON Schema the way the API server reads it.

    Walks the schema structurally (``properties``, ``items``, combinators, ``definitions``)
    and returns a new one where an object that lists ``properties`` is closed
    (``additionalProperties: false``, what kubeconform's ``openapi2jsonschema -strict`` adds)
    unless it says ``x-kubernetes-preserve-unknown-fields: true``, where a closing
    ``additionalProperties: false`` is removed; ``nullable: true`` also admits ``null``.
    """
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in ("properties", "patternProperties", "definitions", "$defs"):
        if isinstance(out.get(key), dict):
            out[key] = {name: strict(sub) for name, sub in out[key].items()}
    for key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
        if isinstance(out.get(key), dict | list):
            out[key] = strict(out[key])
    preserves = out.get("x-kubernetes-preserve-unknown-fields") is True
    if preserves and out.get("additionalProperties") is False:
        del out["additionalProperties"]
    elif not preserves and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def preserved_fields(
    schema: dict[str, Any], value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[str]:
    """Every field of ``value`` that ``schema`` admits only through
    ``x-kubernetes-preserve-unknown-fields``, as a path with list indices written ``[]``
    (``spec.delivery.timeout``, ``spec.filters[].exact.type``). Nothing below such a field
    is visited: the schema says nothing about it."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                yield from preserved_fields(properties[key], item, (*path, key))
            elif isinstance(extra, dict):
                yield from preserved_fields(extra, item, (*path, key))
            elif schema.get("x-kubernetes-preserve-unknown-fields") is True:
                yield _field((*path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from preserved_fields(schema["items"], item, (*path, index))


def _field(parts: tuple[str | int, ...]) -> str:
    return "".join(
        "[]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(parts)
    )


def documented(api_version: str, kind: str, field: str) -> bool:
    """Whether :data:`PRESERVED` documents ``field`` (a :func:`preserved_fields` path), or
    it lies in a part :data:`KUBERNETES_TYPED` checks against a Kubernetes type."""
    patterns = [
        *PRESERVED.get((api_version, kind), {}),
        *(f"{part}.*" for part in KUBERNETES_TYPED.get((api_version, kind), {})),
    ]
    return any(
        field == pattern or (pattern.endswith(".*") and field.startswith(pattern[:-1]))
        for pattern in patterns
    )


def _select(
    value: Any, steps: list[str], parts: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """The values at a :data:`KUBERNETES_TYPED` part (``a.b[].c``) of ``value``, with their
    concrete paths."""
    if not steps:
        yield parts, value
        return
    name, many = (steps[0][:-2], True) if steps[0].endswith("[]") else (steps[0], False)
    if not isinstance(value, dict) or name not in value:
        return
    if not many:
        yield from _select(value[name], steps[1:], (*parts, name))
    elif isinstance(value[name], list):
        for index, item in enumerate(value[name]):
            yield from _select(item, steps[1:], (*parts, name, index))


def _typed_findings(api_version: str, kind: str, obj: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    for part, type_name in KUBERNETES_TYPED.get((api_version, kind), {}).items():
        for parts, value in _select(obj, part.split(".")):
            out += _errors(_kubernetes_type(f"io.k8s.api.core.v1.{type_name}"), value, parts)
    return out


@dataclass(frozen=True)
class Schema:
    """How one kind is checked.

    Attributes:
        source: where the schema comes from (for messages).
        check: the object → its schema findings.
        crd: the (strict) CRD schema, walked by :func:`preserved_fields`; None when the
            kind is built in or its schema does not come from a CRD.
    """

    source: str
    check: Callable[[dict[str, Any]], list[Finding]]
    crd: dict[str, Any] | None = None


def findings(obj: dict[str, Any]) -> list[Finding]:
    """Every schema problem of one object, including the fields it gets through a preserved
    object without :data:`PRESERVED` documenting them.

    Raises:
        MissingSchemaError: the kind has no schema and is not in :data:`WITHOUT_SCHEMA`.
    """
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    schema = schema_for(api_version, kind)
    out = schema.check(obj) + _typed_findings(api_version, kind, obj)
    if schema.crd is not None:
        out += [
            Finding(
                field,
                f"unknown field, admitted only by x-kubernetes-preserve-unknown-"
                f"fields and not documented in PRESERVED ({schema.source})",
            )
            for field in preserved_fields(schema.crd, obj)
            if not documented(api_version, kind, field)
        ]
    return out


@functools.cache
def schema_for(api_version: str, kind: str) -> Schema:
    """The :class:`Schema` of one kind (see the module docstring for the sources).

    Raises:
        MissingSchemaError: no schema, and the kind is not in :data:`WITHOUT_SCHEMA`.
    """
    group, _, version = api_version.rpartition("/")
    if _is_built_in(group):
        return _built_in(group, version, kind)
    if group == "argoproj.io" and kind in ARGO_EVENTS_KINDS:
        return _argo_events(version, kind)
    path = SCHEMAS / group / f"{kind.lower()}_{version}.json"
    if path.is_file():
        crd = _with_object_fields(strict(json.loads(path.read_text(encoding="utf-8"))))
        validator = jsonschema.Draft4Validator(crd)
        source = str(path.relative_to(SCHEMAS))
        return Schema(source, lambda obj: _errors(validator, obj) + _metadata_findings(obj), crd)
    if (api_version, kind) in WITHOUT_SCHEMA:
        return Schema(f"none: {WITHOUT_SCHEMA[(api_version, kind)]}", _metadata_findings)
    raise MissingSchemaError(
        f"{kind} ({api_version}) has no schema: add tests/fixtures/k8s-schemas/{group}/"
        f"{kind.lower()}_{version}.json with its provenance, or list it in WITHOUT_SCHEMA "
        "with the reason"
    )


def _with_object_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD's root as the API server sees it: ``apiVersion``, ``kind`` and ``metadata`` are
    always allowed (several Knative CRDs list only ``spec`` and ``status``); ``metadata`` is
    checked against ``ObjectMeta`` separately."""
    implicit = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}
    implicit["metadata"] = {"type": "object"}
    return {**schema, "properties": {**implicit, **schema.get("properties", {})}}


def _is_built_in(group: str) -> bool:
    # Core (""), the dot-less legacy groups (apps, batch, autoscaling, policy) and *.k8s.io.
    return "." not in group or group.endswith(".k8s.io")


def _errors(
    validator: jsonschema.protocols.Validator, instance: Any, prefix: tuple[str | int, ...] = ()
) -> list[Finding]:
    return [
        Finding(json_path((*prefix, *error.absolute_path)), error.message)
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


def _k8s_dir() -> Traversable:
    return resources.files("kubernetes_validate").joinpath(
        "kubernetes-json-schema", f"v{KUBERNETES_VERSION}-local-strict"
    )


@functools.cache
def _k8s_registry() -> Registry[Any]:
    definitions: dict[str, Any] = json.loads(
        _k8s_dir().joinpath("_definitions.json").read_text("utf-8")
    )
    resource = DRAFT202012.create_resource(definitions)
    registry: Registry[Any] = Registry().with_resource(definitions["$id"], resource)
    return registry


def _built_in(group: str, version: str, kind: str) -> Schema:
    name = f"{kind.lower()}-{group.split('.')[0] + '-' if group else ''}{version}.json"
    where = f"kubernetes-validate {KUBERNETES_VERSION} strict {name}"
    file = _k8s_dir().joinpath(name)
    if not file.is_file():
        raise MissingSchemaError(f"{kind} ({group or 'core'}/{version}): no {where}")
    schema = json.loads(file.read_text("utf-8"))
    if {"group": group, "kind": kind, "version": version} not in schema.get(
        "x-kubernetes-group-version-kind", []
    ):
        raise MissingSchemaError(f"{kind} ({group or 'core'}/{version}): {where} is another kind")
    validator = jsonschema.Draft202012Validator(schema, registry=_k8s_registry())
    return Schema(where, lambda obj: _errors(validator, obj))


@functools.cache
def _kubernetes_type(definition: str) -> jsonschema.protocols.Validator:
    """A validator for one strict definition (``io.k8s.api.core.v1.Toleration``)."""
    ref = f"https://kubernetes.io/api/_definitions.json#/$defs/{definition}"
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=_k8s_registry())


def _metadata_findings(obj: dict[str, Any]) -> list[Finding]:
    if not isinstance(obj.get("metadata"), dict) or not obj["metadata"].get("name"):
        return [Finding("metadata.name", "every object needs a name")]
    meta = _kubernetes_type("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    return _errors(meta, obj["metadata"], ("metadata",))


@functools.cache
def _argo_events_registry() -> tuple[str, Registry[Any]]:
    schema = strict(json.loads(ARGO_EVENTS_SCHEMA.read_text(encoding="utf-8")))
    return schema["$id"], Registry().with_resource(schema["$id"], DRAFT7.create_resource(schema))


def _argo_events(version: str, kind: str) -> Schema:
    base, registry = _argo_events_registry()
    ref = f"{base}#/definitions/io.argoproj.events.{version}.{kind}"
    validator = jsonschema.Draft7Validator({"$ref": ref}, registry=registry)
    return Schema(
        f"argoproj.io/argo-events_schema.json {kind}", lambda obj: _errors(validator, obj)
    )


__all__ = [
    "ARGO_EVENTS_KINDS",
    "KUBERNETES_TYPED",
    "KUBERNETES_VERSION",
    "PRESERVED",
    "WITHOUT_SCHEMA",
    "Finding",
    "MissingSchemaError",
    "Schema",
    "documented",
    "findings",
    "json_path",
    "preserved_fields",
    "schema_for",
    "strict",
]
