"""Knative rules a JSON Schema cannot express, checked over the objects of one build.

Each function returns :class:`~tests.support.k8s_schemas.Finding` values (empty when the rule
holds). Where a rule comes from:

* :func:`filter_findings`: Knative Eventing's Trigger validation
  (``ValidateSubscriptionAPIFilter``): each expression of ``spec.filters`` (and each nested
  one under ``all``, ``any``, ``not``) sets exactly one dialect; ``exact``/``prefix``/``suffix``
  hold exactly one attribute, named ``^[a-z][a-z0-9]*$``, with a non-empty string value.
* :func:`delivery_findings`: ``DeliverySpec``: ``backoffDelay``, ``timeout`` and
  ``retryAfterMax`` are ISO-8601 durations (parsed by :func:`shared.local.mesh.delivery.
  parse_duration`, what the local mesh uses); our own rule: ``retry`` ≥ 1.
* :func:`reference_findings`: every ``ref`` of a ``subscriber``, ``sink`` or
  ``deadLetterSink`` (and a Broker's ``spec.config``) names an object of the build, in the
  namespace of the referring object unless the ref says otherwise, or a kind of
  :data:`EXTERNAL_KINDS`.
* :func:`broker_findings`: a Trigger's ``spec.broker`` is a Broker of the build, in its
  namespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from shared.local.mesh.delivery import parse_duration
from tests.support.k8s_schemas import Finding, json_path

DIALECTS = ("exact", "prefix", "suffix", "all", "any", "not", "cesql")
ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9]*")
DURATIONS = ("backoffDelay", "timeout", "retryAfterMax")
DESTINATIONS = frozenset({"subscriber", "sink", "deadLetterSink"})

EXTERNAL_KINDS: dict[tuple[str, str], str] = {}
"""(API group, kind) → where such objects come from, for refs that may point outside the
build. Empty: every ref of our builds names one of their own objects."""

Path = tuple[str | int, ...]


def filter_findings(trigger: dict[str, Any]) -> list[Finding]:
    """Every filter expression of a Trigger that Knative would reject (see the module)."""
    filters = (trigger.get("spec") or {}).get("filters") or []
    out: list[Finding] = []
    for index, expression in enumerate(filters):
        out += _expression(expression, ("spec", "filters", index))
    return out


def _expression(expression: Any, path: Path) -> list[Finding]:
    where = json_path(path)
    if not isinstance(expression, dict) or len(expression) != 1:
        keys = sorted(expression) if isinstance(expression, dict) else type(expression).__name__
        return [Finding(where, f"expected exactly one dialect of {DIALECTS}, found {keys}")]
    ((dialect, value),) = expression.items()
    here = (*path, dialect)
    if dialect in ("exact", "prefix", "suffix"):
        if not isinstance(value, dict) or len(value) != 1:
            return [Finding(json_path(here), f"expected one attribute: value, found {value!r}")]
        ((attribute, text),) = value.items()
        out = []
        if not ATTRIBUTE_NAME.fullmatch(str(attribute)):
            out.append(Finding(json_path(here), f"attribute {attribute!r} is not [a-z][a-z0-9]*"))
        if not isinstance(text, str) or not text:
            out.append(Finding(json_path((*here, attribute)), "expected a non-empty string"))
        return out
    if dialect in ("all", "any"):
        if not isinstance(value, list) or not value:
            return [Finding(json_path(here), "expected a non-empty list of filter expressions")]
        return [f for i, item in enumerate(value) for f in _expression(item, (*here, i))]
    if dialect == "not":
        return _expression(value, here)
    if dialect == "cesql":
        ok = isinstance(value, str) and value.strip()
        return [] if ok else [Finding(json_path(here), "expected a CESQL expression")]
    return [Finding(where, f"{dialect!r} is not a filter dialect; expected one of {DIALECTS}")]


def _deliveries(node: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "delivery" and isinstance(value, dict):
                yield (*path, key), value
            else:
                yield from _deliveries(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _deliveries(item, (*path, index))


def delivery_findings(obj: dict[str, Any]) -> list[Finding]:
    """Every malformed duration, and every ``retry`` below 1, in any ``delivery`` of ``obj``."""
    out: list[Finding] = []
    for path, delivery in _deliveries(obj.get("spec"), ("spec",)):
        for name in DURATIONS:
            if name in delivery:
                try:
                    parse_duration(str(delivery[name]), name)
                except ValueError as error:
                    out.append(Finding(json_path((*path, name)), str(error)))
        retry = delivery.get("retry")
        if retry is not None and (not isinstance(retry, int) or retry < 1):
            out.append(Finding(json_path((*path, "retry")), f"expected ≥ 1, found {retry!r}"))
    return out


def _refs(node: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in DESTINATIONS and isinstance(value, dict) and "ref" in value:
                yield (*path, key, "ref"), value["ref"]
            yield from _refs(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _refs(item, (*path, index))


def _group(api_version: Any) -> str:
    return str(api_version or "").rpartition("/")[0]


def reference_findings(obj: dict[str, Any], build: list[dict[str, Any]]) -> list[Finding]:
    """Every destination ``ref`` of ``obj`` that names no object of ``build`` (see the
    module); the API group must match, the version may differ (conversion)."""
    namespace = (obj.get("metadata") or {}).get("namespace")
    present = {
        (_group(o.get("apiVersion")), o.get("kind"), o["metadata"].get("namespace"), name)
        for o in build
        if (name := (o.get("metadata") or {}).get("name"))
    }
    refs = list(_refs(obj.get("spec"), ("spec",)))
    config = (obj.get("spec") or {}).get("config")
    if obj.get("kind") == "Broker" and isinstance(config, dict):
        refs.append((("spec", "config"), config))
    out = []
    for path, ref in refs:
        group, kind = _group(ref.get("apiVersion")), ref.get("kind")
        key = (group, kind, ref.get("namespace") or namespace, ref.get("name"))
        if key not in present and (group, kind) not in EXTERNAL_KINDS:
            out.append(
                Finding(
                    json_path(path),
                    f"{kind} {key[3]!r} ({group or 'core'}) in namespace "
                    f"{key[2]!r} is not an object of the build nor an external kind",
                )
            )
    return out


def broker_findings(trigger: dict[str, Any], build: list[dict[str, Any]]) -> list[Finding]:
    """Whether a Trigger's ``spec.broker`` names a Broker of ``build`` in its namespace."""
    namespace = (trigger.get("metadata") or {}).get("namespace")
    name = (trigger.get("spec") or {}).get("broker")
    brokers = {
        o["metadata"].get("name")
        for o in build
        if o.get("kind") == "Broker"
        and _group(o.get("apiVersion")) == "eventing.knative.dev"
        and o["metadata"].get("namespace") == namespace
    }
    if name in brokers:
        return []
    return [
        Finding(
            "spec.broker",
            f"{name!r} is not a Broker of the build in {namespace!r} (found {sorted(brokers)})",
        )
    ]
