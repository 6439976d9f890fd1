"""Input limits: the one reader of untrusted JSON, applied before any use case (DESIGN §11).

Every entry point reads JSON through :func:`loads` (the runtime's check of a CloudEvent's
``data``, :meth:`shared.runtime.envelope.Envelope.json`, a structured CloudEvent's body,
github-webhook's body and Kafka envelopes, notify's body, the documents inside an Argo completion
record), so a hostile body is a 4xx naming the field, never a 500. The rules and why:

* **Depth** — at most :data:`MAX_JSON_DEPTH` (64) nested objects/arrays. Real GitHub and Argo
  documents stay under 20; Python's parser gives up near 1,000 with ``RecursionError``.
* **Numbers** — ``NaN``/``Infinity`` (not JSON, RFC 8259 §6) and numbers that overflow a float
  are refused; integers must fit Postgres ``bigint``. The members stored in ``integer`` columns
  (:data:`INTEGER_FIELDS`: ``number``, ``pr_number``, ``issue_number``, ``attempt``, ``line``)
  must fit ``integer``, which is also GitHub's own bound (its GraphQL ``Int`` is 32-bit).
* **Strings** — a lone surrogate (``"\\ud800"``: not a Unicode scalar value, so not encodable
  as UTF-8, RFC 8259 §8.2) is refused. NUL (``\\u0000``) is valid Unicode that real issue and
  PR text contains, but Postgres cannot store it in ``text`` or ``jsonb``: every NUL in a key or
  value is replaced by U+FFFD (:data:`NUL_REPLACEMENT`) so the document is accepted and stored.
  Raw bytes kept as ``bytea`` (a dead letter's data) and signature checks stay byte-exact.

Violations raise :class:`~shared.errors.InvalidDataError` (422) whose ``field`` is the dotted
path of the offending member (``data.pull_request.number``) and whose ``limit`` names the bound.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from shared.errors import InvalidDataError, PermanentError

__all__ = [
    "BIGINT_RANGE",
    "INTEGER_FIELDS",
    "INTEGER_RANGE",
    "MAX_JSON_DEPTH",
    "NUL_REPLACEMENT",
    "clean",
    "is_utf8_json_text",
    "loads",
    "scrub",
]

#: The deepest nesting of objects and arrays accepted (the top-level value is depth 1).
MAX_JSON_DEPTH = 64
#: Postgres ``bigint`` and ``integer``, inclusive.
BIGINT_RANGE = (-(2**63), 2**63 - 1)
INTEGER_RANGE = (-(2**31), 2**31 - 1)
#: Members that land in Postgres ``integer`` columns (runs, pull requests, review threads).
INTEGER_FIELDS = frozenset({"number", "pr_number", "issue_number", "attempt", "line"})
#: What a NUL becomes in stored text (the Unicode replacement character).
NUL_REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")


class _NotJson(ValueError):
    """``NaN``/``Infinity`` met while parsing."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number (RFC 8259 §6)")


def loads(
    raw: bytes | str,
    *,
    field: str = "data",
    malformed: type[PermanentError] = InvalidDataError,
) -> Any:
    """Parse ``raw`` as JSON and apply every limit (see the module docstring).

    Args:
        raw: the JSON text (UTF-8/16/32 bytes or str).
        field: the path of ``raw`` itself, the prefix of every field named in an error.
        malformed: the error raised when ``raw`` is not JSON at all (400 or 422 by caller).

    Returns:
        The document with every NUL replaced by U+FFFD.

    Raises:
        PermanentError: ``malformed`` when ``raw`` is not JSON text; :class:`InvalidDataError`
            (422) for a limit, naming the field.
    """
    numbers = _NumberScan()
    try:
        doc = json.loads(
            raw,
            parse_constant=_refuse_constant,
            parse_int=numbers.integer,
            parse_float=numbers.real,
        )
    except RecursionError as exc:
        raise _too_deep(field) from exc
    except _NotJson as exc:
        raise InvalidDataError(f"{field}: {exc}", field=field, limit="finite numbers") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise malformed(f"{field} is not JSON: {exc}", field=field) from exc
    except ValueError as exc:  # an integer literal beyond Python's 4,300-digit conversion limit
        raise InvalidDataError(
            f"{field}: a number is out of range ({exc})", field=field, limit="bigint"
        ) from exc
    text = _plain_utf8(raw)
    if text is not None and not numbers.unusual and _nesting(text) <= MAX_JSON_DEPTH:
        return doc  # nothing :func:`clean` would refuse or replace: skip its walk
    return clean(doc, field=field)


class _NumberScan:
    """``json.loads`` number hooks that note a number :func:`clean` must look at in context:
    an integer outside Postgres ``integer`` (allowed or not depends on its member's name) or a
    float that overflowed to infinity."""

    def __init__(self) -> None:
        self.unusual = False

    def integer(self, text: str) -> int:
        value = int(text)
        if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
            self.unusual = True
        return value

    def real(self, text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            self.unusual = True
        return value


def _plain_utf8(raw: bytes | str) -> bytes | None:
    """``raw`` as UTF-8 when no string of the document can hold a NUL or a lone surrogate,
    else None. Valid JSON text has no raw control character, so a NUL needs a ``\\u`` escape;
    a lone surrogate needs the escape too in UTF-8 bytes (it is not UTF-8), and may stand raw in
    ``str`` input (decoded from an outer document). UTF-16/32 bytes are left to the walk."""
    if isinstance(raw, str):
        if "\\u" in raw or _SURROGATE.search(raw):
            return None
        return raw.encode()
    if b"\\u" in raw or json.detect_encoding(raw) != "utf-8":
        return None
    return raw


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_MARKS = bytes(b for b in range(256) if b not in b'[]{}"')
#: Arrays and objects nest alike: ``[``/``]`` read as ``{``/``}``.
_ONE_KIND = bytes.maketrans(b"[]", b"{}")


def _nesting(raw: bytes) -> int:
    """The deepest nesting of objects/arrays in valid UTF-8 JSON ``raw``, counted on its
    brackets outside strings, up to ``MAX_JSON_DEPTH + 1`` (any deeper document counts as
    that); 0 when there are too few brackets to matter. Without an escaped quote, the text
    outside strings is every other piece between quotes.

    The brackets of valid JSON are balanced, so an opener directly followed by a closer is an
    innermost array or object: each pass removes every one of them, and the passes that empty
    the brackets are the depth (bytes operations, no Python loop over the brackets)."""
    if raw.count(b"{") + raw.count(b"[") <= MAX_JSON_DEPTH:
        return 0
    if b"\\" in raw and b'\\"' in raw:  # one byte is found much faster than two
        outside = _JSON_STRING.sub(b"", raw)
    else:
        # Only quotes and brackets matter. Two adjacent quotes enclose nothing that counts (a
        # string without brackets, or the gap between two strings): dropping them keeps every
        # other quote's parity and leaves few pieces to split.
        marks = raw.translate(None, _NOT_MARKS).replace(b'""', b"")
        outside = b"".join(marks.split(b'"')[::2])
    brackets = outside.translate(_ONE_KIND, _NOT_BRACKETS)
    depth = 0
    while brackets and depth <= MAX_JSON_DEPTH:
        brackets = brackets.replace(b"{}", b"")
        depth += 1
    return depth


def is_utf8_json_text(raw: bytes) -> bool:
    """Whether :func:`loads` reads ``raw`` as its UTF-8 text: no byte order mark, valid UTF-8
    (strict: no encoded surrogates), and first bytes that JSON's encoding detection (RFC 8259
    §8.1, :func:`json.detect_encoding`) takes for UTF-8. Then ``loads(raw)`` and
    ``loads(raw.decode("utf-8"))`` give the same document or the same error."""
    if json.detect_encoding(raw) != "utf-8":
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def clean(doc: Any, *, field: str = "data") -> Any:
    """Apply the limits to an already parsed document (JSON or YAML); returns it with NULs
    replaced. Values of other types (YAML ``bytes``, dates) pass unchanged.

    Raises:
        InvalidDataError: a limit is exceeded; ``field`` is the member's dotted path.
    """
    return _clean(doc, field, 1, None)


def _clean(value: Any, path: str, depth: int, key: str | None) -> Any:
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        low, high = INTEGER_RANGE if key in INTEGER_FIELDS else BIGINT_RANGE
        if not low <= value <= high:
            kind = "integer" if key in INTEGER_FIELDS else "bigint"
            raise InvalidDataError(
                f"{path}: {_digits(value)} is outside Postgres {kind} [{low}, {high}]",
                field=path,
                limit=kind,
            )
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidDataError(
                f"{path}: {value} is not a finite number", field=path, limit="finite numbers"
            )
        return value
    if isinstance(value, dict | list):
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(path)
        if isinstance(value, list):
            return [_clean(item, f"{path}.{i}", depth + 1, key) for i, item in enumerate(value)]
        out: dict[Any, Any] = {}
        for k, v in value.items():
            name = _text(k, f"{path}.{k!r}") if isinstance(k, str) else k
            out[name] = _clean(v, f"{path}.{name}", depth + 1, str(name))
        return out
    return value


def _text(value: str, path: str) -> str:
    if _SURROGATE.search(value):
        raise InvalidDataError(
            f"{path}: text contains a lone UTF-16 surrogate (not a Unicode character)",
            field=path,
            limit="Unicode scalar values",
        )
    return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value


def _too_deep(path: str) -> InvalidDataError:
    return InvalidDataError(
        f"{path}: nested deeper than {MAX_JSON_DEPTH} levels of objects/arrays",
        field=path,
        limit=f"depth {MAX_JSON_DEPTH}",
    )


def _digits(value: int) -> str:
    text = str(value) if value.bit_length() < 200 else f"a {value.bit_length()}-bit integer"
    return text


def scrub(value: Any) -> Any:
    """``value`` made storable in ``jsonb`` without refusing anything (for dead letters and
    logs): NUL and lone surrogates become U+FFFD, non-finite floats become strings, at any
    depth up to :data:`MAX_JSON_DEPTH` (deeper members are replaced by a note)."""
    return _scrub(value, 1)


def _scrub(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub(NUL_REPLACEMENT, value).replace("\x00", NUL_REPLACEMENT)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if BIGINT_RANGE[0] <= value <= BIGINT_RANGE[1] else _digits(value)
    if isinstance(value, dict | list | tuple):
        if depth > MAX_JSON_DEPTH:
            return f"<nested deeper than {MAX_JSON_DEPTH} levels>"
        if isinstance(value, dict):
            return {str(_scrub(str(k), depth)): _scrub(v, depth + 1) for k, v in value.items()}
        return [_scrub(item, depth + 1) for item in value]
    return value
