"""The limits' fast path (:func:`shared.runtime.limits.loads` skipping the walk) must decide
exactly as the walk (:func:`shared.runtime.limits.clean`) on every document: the same value,
or the same error naming the same field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import InvalidDataError
from shared.runtime.limits import MAX_JSON_DEPTH, NUL_REPLACEMENT, clean, loads

KEYS = st.sampled_from(["number", "id", "attempt", "name", "line", "x"]) | st.text(max_size=4)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=40,
)


def _walk(raw: bytes | str) -> Any:
    try:
        return clean(json.loads(raw))
    except InvalidDataError as exc:
        return ("refused", exc.field)


def _fast(raw: bytes | str) -> Any:
    try:
        return loads(raw)
    except InvalidDataError as exc:
        return ("refused", exc.field)


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS)
def test_the_fast_path_decides_as_the_walk(doc: Any) -> None:
    text = json.dumps(doc, ensure_ascii=False)
    for raw in (json.dumps(doc).encode(), text.encode(), text):
        assert _fast(raw) == _walk(raw)


def _nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_nested(MAX_JSON_DEPTH), ...),
        (_nested(MAX_JSON_DEPTH + 1), ("refused", "data" + ".0" * MAX_JSON_DEPTH)),
        # Brackets inside strings are not nesting, with and without escaped quotes.
        (json.dumps({"s": "[" * 200, "a": [[1]] * 40}).encode(), ...),
        (json.dumps({"s": '"]]]]' * 50, "a": [[1]] * 40}).encode(), ...),
        (json.dumps({"s": '"]]]]' * 50, "a": _deep(MAX_JSON_DEPTH)}).encode(), ...),
        (json.dumps({"s": '"[[[[' * 50, "a": _deep(MAX_JSON_DEPTH - 1)}).encode(), ...),
        (json.dumps({"s": "]]]]" * 50, "t": "", "a": _deep(MAX_JSON_DEPTH)}).encode(), ...),
        (json.dumps({"s": "[[[[" * 50, "t": "x", "a": _deep(MAX_JSON_DEPTH - 1)}).encode(), ...),
        (json.dumps(["]", "", "[", _deep(MAX_JSON_DEPTH - 1), "]]", "\\"]).encode(), ...),
        # Objects and arrays nest alike; the deepest member may follow many shallow ones.
        (json.dumps([{"a": [{}]}] * 30 + [_deep(MAX_JSON_DEPTH - 1)]).encode(), ...),
        (json.dumps([{"a": [{}]}] * 30 + [{"b": _deep(MAX_JSON_DEPTH)}]).encode(), ...),
        (b'{"pr_number": 2147483648}', ("refused", "data.pr_number")),
        (b'{"id": 2147483648}', {"id": 2147483648}),
        (b'{"number": [1, 2147483648]}', ("refused", "data.number.1")),
        (b'{"x": 1e999}', ("refused", "data.x")),
        (b'{"t": "a\\u0000b"}', {"t": f"a{NUL_REPLACEMENT}b"}),
        (b'{"t": "\\ud800"}', ("refused", "data.t")),
        (b'{"t": "\\ud83d\\ude00"}', {"t": "\U0001f600"}),
        ('{"t": "\ud800"}'.encode("utf-16", "surrogatepass"), ("refused", "data.t")),
        ('{"t": "\ud800"}', ("refused", "data.t")),  # a str decoded from an outer document
        ('{"t": "\\u0000"}', {"t": NUL_REPLACEMENT}),
    ],
)
def test_edges_decide_as_the_walk(raw: bytes | str, expected: Any) -> None:
    assert _fast(raw) == _walk(raw)
    if expected is not ...:
        assert _fast(raw) == expected
