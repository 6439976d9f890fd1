"""Trigger matching: ``spec.filter.attributes`` and the ``spec.filters`` dialects.

Sources:

* Knative Eventing, Trigger ``spec.filter.attributes``: exact, case-sensitive match on context
  attributes; every listed attribute must match; an empty map matches every event; an empty
  value matches any value of a *present* attribute (Knative's ``TriggerAnyFilter``).
* Knative "New Trigger Filters" (``spec.filters``, GA since Knative 1.14), from the CloudEvents
  Subscriptions API: an array of expressions, all of which must be true. Each expression has
  exactly one dialect: ``exact``/``prefix``/``suffix`` (one attribute, which must be present
  and match, case-sensitive; Knative's webhook rejects a map of several), ``all`` (every
  nested expression), ``any`` (at least one), ``not`` (the nested expression is false),
  ``cesql`` (CloudEvents SQL, not supported here). When ``filters`` is non-empty it takes
  precedence over ``filter``.

Attributes are the event's context attributes and extensions as strings (``specversion``,
``id``, ``source``, ``type``, ``subject``, ``time``, ``datacontenttype``, ``key`` …). All
functions are pure.

Errors: :class:`FilterError` (a ``ValueError``) names the path of the offending expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DIALECTS = ("exact", "prefix", "suffix", "all", "any", "not", "cesql")
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9]*")


class FilterError(ValueError):
    """A Trigger filter that cannot be evaluated; the message names the expression's path."""


def trigger_matches(
    attributes_filter: Mapping[str, str],
    filters: Sequence[Mapping[str, Any]],
    event: Mapping[str, str],
) -> bool:
    """Whether an event passes a Trigger (``filters`` wins over ``filter.attributes``).

    Args:
        attributes_filter: ``spec.filter.attributes``.
        filters: ``spec.filters``.
        event: the event's attributes and extensions, as strings.

    Raises:
        FilterError: a malformed or unsupported expression in ``filters``.
    """
    if filters:
        return all(evaluate(expr, event, f"filters[{i}]") for i, expr in enumerate(filters))
    return attributes_match(attributes_filter, event)


def attributes_match(attributes_filter: Mapping[str, str], event: Mapping[str, str]) -> bool:
    """Legacy ``filter.attributes``: all listed attributes equal; ``""`` means "present"."""
    for name, expected in attributes_filter.items():
        actual = event.get(name)
        if actual is None:
            return False
        if expected != "" and actual != expected:
            return False
    return True


def validate(filters: Sequence[Mapping[str, Any]]) -> None:
    """Check every expression in ``spec.filters`` can be evaluated.

    Raises:
        FilterError: names the first bad expression (``filters[1].any[0]``) and why.
    """
    for i, expr in enumerate(filters):
        _check(expr, f"filters[{i}]")


def evaluate(expression: Mapping[str, Any], event: Mapping[str, str], path: str = "filter") -> bool:
    """Evaluate one filter expression against ``event``.

    Raises:
        FilterError: the expression is malformed or uses ``cesql``.
    """
    dialect, operand = _dialect(expression, path)
    if dialect in _STRING_DIALECTS:
        test = _STRING_DIALECTS[dialect]
        pairs = _string_map(operand, f"{path}.{dialect}")
        return all(name in event and test(event[name], value) for name, value in pairs.items())
    if dialect == "not":
        if not isinstance(operand, Mapping):
            raise FilterError(f"{path}.not: expected one filter expression (a mapping)")
        return not evaluate(operand, event, f"{path}.not")
    nested = _expressions(operand, f"{path}.{dialect}")
    results = (evaluate(e, event, f"{path}.{dialect}[{i}]") for i, e in enumerate(nested))
    return all(results) if dialect == "all" else any(results)


_STRING_DIALECTS: dict[str, Callable[[str, str], bool]] = {
    "exact": lambda actual, value: actual == value,
    "prefix": lambda actual, value: actual.startswith(value),
    "suffix": lambda actual, value: actual.endswith(value),
}


def _dialect(expression: Mapping[str, Any], path: str) -> tuple[str, Any]:
    if not isinstance(expression, Mapping):
        raise FilterError(f"{path}: expected a filter expression (a mapping)")
    keys = [k for k in expression if expression[k] is not None]
    if len(keys) != 1:
        raise FilterError(
            f"{path}: expected exactly one dialect of {', '.join(DIALECTS)}; "
            f"found {sorted(keys) or 'none'}"
        )
    dialect = keys[0]
    if dialect == "cesql":
        raise FilterError(
            f"{path}.cesql: CloudEvents SQL filters are not supported by the local "
            "mesh; use exact/prefix/suffix/all/any/not"
        )
    if dialect not in DIALECTS:
        raise FilterError(
            f"{path}: unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}"
        )
    return dialect, expression[dialect]


def _string_map(operand: Any, path: str) -> dict[str, str]:
    """An ``exact``/``prefix``/``suffix`` operand: exactly one attribute, as Knative's webhook
    requires (``ValidateSingleAttributeMap``: "Multiple items found, can have only one
    key-value"); combine several with ``all``."""
    if not isinstance(operand, Mapping) or len(operand) != 1:
        raise FilterError(
            f"{path}: expected exactly one attribute name and value, found "
            f"{sorted(operand) if isinstance(operand, Mapping) else type(operand).__name__}"
            " (Knative rejects several; combine them with `all`)"
        )
    for name, value in operand.items():
        if not isinstance(name, str) or not _ATTRIBUTE_NAME.fullmatch(name):
            raise FilterError(
                f"{path}.{name}: an attribute name starts with a letter and has only lowercase"
                " letters and digits (Knative spec)"
            )
        if not isinstance(value, str) or not value:
            raise FilterError(f"{path}.{name}: the value must be a non-empty string")
    return dict(operand)


def _expressions(operand: Any, path: str) -> list[Mapping[str, Any]]:
    if not isinstance(operand, list) or not operand:
        raise FilterError(f"{path}: expected a non-empty list of filter expressions")
    return operand


def _check(expression: Mapping[str, Any], path: str) -> None:
    dialect, operand = _dialect(expression, path)
    if dialect in _STRING_DIALECTS:
        _string_map(operand, f"{path}.{dialect}")
    elif dialect == "not":
        if not isinstance(operand, Mapping):
            raise FilterError(f"{path}.not: expected one filter expression (a mapping)")
        _check(operand, f"{path}.not")
    else:
        for i, nested in enumerate(_expressions(operand, f"{path}.{dialect}")):
            _check(nested, f"{path}.{dialect}[{i}]")
