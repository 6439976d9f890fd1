"""CloudEvents in and out: the only module that touches the ``cloudevents`` SDK.

Everything else sees :class:`Envelope` (an incoming event with raw ``data`` bytes) and
:class:`OutgoingEvent`. Both HTTP content modes of the CloudEvents HTTP binding 1.0 are read:
*binary* (``ce-*`` headers, data in the body, possibly with no ``Content-Type`` at all, as a
KafkaSource delivers a record) and *structured* (``application/cloudevents+json``; ``data`` or
``data_base64``). Replies are written in binary mode (DESIGN §6).
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent, from_http
from pydantic import BaseModel, ValidationError

from shared.errors import InvalidDataError, MalformedEventError
from shared.runtime import limits

M = TypeVar("M", bound=BaseModel)

_UNPARSED = object()

#: The Content-Type of a structured-mode CloudEvent (the JSON event format).
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"

_CORE = {
    "id",
    "source",
    "type",
    "specversion",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
}


@dataclass(frozen=True)
class Envelope:
    """One incoming CloudEvent.

    Attributes:
        id, source, type: the required context attributes.
        subject, time, datacontenttype: optional attributes (``time`` as sent, RFC 3339).
        data: the payload bytes exactly as received (JSON text for JSON events).
        extensions: every other attribute (``traceparent``, ``key``, ``knativeerrorcode`` …).
    """

    id: str
    source: str
    type: str
    subject: str | None = None
    time: str | None = None
    datacontenttype: str | None = None
    data: bytes = b""
    extensions: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """``data`` parsed as JSON, once per envelope: the runtime's input check
        (:func:`shared.runtime.gate.check_data`) and the use case share one parse, so every call
        returns the same document (read it, do not change it).

        The input limits of :mod:`shared.runtime.limits` apply (NUL becomes U+FFFD).

        Raises:
            InvalidDataError: ``data`` is empty, not JSON (``field`` = ``"data"``) or exceeds a
                limit (``field`` names the member); an error is not kept, each call raises anew.
        """
        parsed = self.__dict__.get("_parsed", _UNPARSED)
        if parsed is _UNPARSED:
            if not self.data:
                raise InvalidDataError(
                    "event data is empty; expected a JSON document", field="data"
                )
            parsed = limits.loads(self.data)
            object.__setattr__(self, "_parsed", parsed)  # a cache, not a field: frozen stays
        return parsed

    def json_object(self) -> dict[str, Any] | None:
        """``data`` as the JSON object :meth:`json` parsed, when ``data`` is UTF-8 JSON text
        (no byte order mark) holding an object; None for anything else (YAML, another
        encoding, a JSON array or string, text that is not JSON), which the caller reads from
        the bytes itself. For UTF-8 JSON text the object is exactly what decoding the bytes as
        UTF-8 and parsing the text through :func:`shared.runtime.limits.loads` gives.

        Raises:
            InvalidDataError: a limit of :mod:`shared.runtime.limits` is exceeded.
        """
        if not limits.is_utf8_json_text(self.data):
            return None
        try:
            doc = self.json()
        except InvalidDataError as exc:
            if exc.details.get("limit"):
                raise
            return None
        return doc if isinstance(doc, dict) else None

    def model(self, cls: builtins.type[M]) -> M:
        """``data`` validated by ``cls``.

        Raises:
            InvalidDataError: names the first failing field as a dotted path under ``data``.
        """
        return parse_model(cls, self.json())

    def attributes(self) -> dict[str, Any]:
        """Every context attribute and extension, for logs and dead letters."""
        attrs = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": self.datacontenttype,
        }
        return {k: v for k, v in {**attrs, **self.extensions}.items() if v is not None}


def parse_model(cls: type[M], payload: Any, *, root: str = "data") -> M:
    """Validate ``payload`` with ``cls``; errors name the field path (``data.status.phase``).

    Raises:
        InvalidDataError: the first validation error, with ``field`` and ``errors`` (all of them).
    """
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        first = errors[0]
        path = ".".join([root, *(str(p) for p in first["loc"])])
        raise InvalidDataError(
            f"{path}: {first['msg']}",
            field=path,
            errors=[
                {"field": ".".join([root, *(str(p) for p in e["loc"])]), "message": e["msg"]}
                for e in errors
            ],
        ) from exc


def read_event(headers: Mapping[str, str], body: bytes) -> Envelope:
    """Read a CloudEvent from an HTTP request (binary or structured mode).

    Binary-mode ``ce-*`` header values are percent-decoded (CloudEvents HTTP binding 1.0
    §3.1.3.2), as :func:`to_binary_http` encodes them.

    Raises:
        MalformedEventError: the request is not a CloudEvent, or a required attribute is
            missing or empty; ``field`` names it.
    """
    lowered = {
        k.lower(): unquote(v) if k.lower().startswith("ce-") else v for k, v in headers.items()
    }
    content_type = lowered.get("content-type", "")
    if "ce-specversion" not in lowered and not _is_structured(content_type):
        raise MalformedEventError(
            "not a CloudEvent: expected ce-* headers (binary mode) or "
            "Content-Type application/cloudevents+json (structured mode)",
            field="ce-specversion",
        )
    has_time = _require_attributes(lowered, content_type, body)
    binary = None if _is_structured(content_type) else _binary_attributes(lowered)
    attrs: Mapping[str, Any]
    data: Any
    if binary is not None:
        attrs, data = binary, body
    else:
        try:
            event = from_http(dict(lowered), body, data_unmarshaller=lambda raw: raw)
        except GenericException as exc:
            raise MalformedEventError(f"unreadable CloudEvent: {exc}", field=_missing(exc)) from exc
        attrs, data = event.get_attributes(), event.get_data()
    for name in ("id", "source", "type"):
        if not attrs.get(name):
            raise MalformedEventError(f"CloudEvent attribute {name!r} is empty", field=name)
    for name, value in attrs.items():
        # Attributes are stored as text (inbox, dead letters): no NUL, no lone surrogate.
        if isinstance(value, str) and limits.scrub(value) != value:
            raise MalformedEventError(
                f"CloudEvent attribute {name!r} contains NUL or a lone surrogate", field=name
            )
    if data is None:
        raw = b""
    elif isinstance(data, bytes | bytearray):
        raw = bytes(data)
    elif isinstance(data, str):
        raw = data.encode()
    else:  # structured mode with a JSON `data` member
        raw = json.dumps(data, separators=(",", ":")).encode()
    return Envelope(
        id=str(attrs["id"]),
        source=str(attrs["source"]),
        type=str(attrs["type"]),
        subject=attrs.get("subject"),
        time=str(attrs["time"]) if has_time and attrs.get("time") else None,
        datacontenttype=attrs.get("datacontenttype"),
        data=raw,
        extensions={k: str(v) for k, v in attrs.items() if k not in _CORE},
    )


#: The context attributes of CloudEvents 1.0, in the order the SDK lists them (its ``v1.Event``);
#: with ``data`` and ``extensions`` these are the names it keeps out of the extensions.
_V1_ATTRIBUTES = (
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
)
_SDK_NAMES = frozenset(_V1_ATTRIBUTES) | {"data", "extensions"}


def _binary_attributes(headers: Mapping[str, str]) -> dict[str, str] | None:
    """The attributes of a binary-mode CloudEvents 1.0 request, read as the SDK reads them
    without building its objects (the runtime's hot path, issue 12): each ``ce-<name>`` header
    sets attribute ``name``, ``Content-Type`` sets ``datacontenttype`` (the later header wins),
    a name that is no 1.0 attribute is an extension; the 1.0 attributes first, in the SDK's
    order, then the extensions as sent.

    Args:
        headers: the request headers, names lowercased, ``ce-*`` values percent-decoded, with
            ``ce-id``, ``ce-source`` and ``ce-type`` present (:func:`_require_attributes`).

    Returns:
        The attributes, or None when the SDK must read the request: a ``specversion`` other
        than ``1.0`` (0.3, or one it refuses), or a ``ce-data``/``ce-extensions`` header.
    """
    if headers.get("ce-specversion") != "1.0":
        return None
    core: dict[str, str] = {}
    extensions: dict[str, str] = {}
    for key, value in headers.items():
        if key == "content-type":
            core["datacontenttype"] = value
        elif key.startswith("ce-"):
            name = key[3:]
            if name in ("data", "extensions"):
                return None
            (core if name in _SDK_NAMES else extensions)[name] = value
    return {**{name: core[name] for name in _V1_ATTRIBUTES if name in core}, **extensions}


def _require_attributes(headers: Mapping[str, str], content_type: str, body: bytes) -> bool:
    """Check the required attributes are present; returns whether the sender set ``time``."""
    # The SDK invents an ``id`` and ``time`` when they are absent; an event without its own
    # ``id`` cannot be deduplicated, so a missing required attribute is an error here.
    if not _is_structured(content_type):
        present = {name: headers.get(f"ce-{name}") for name in ("id", "source", "type")}
        has_time = bool(headers.get("ce-time"))
    else:
        doc = limits.loads(body, field="body", malformed=MalformedEventError)
        if not isinstance(doc, dict):
            raise MalformedEventError("structured CloudEvent must be a JSON object", field="body")
        present = {name: doc.get(name) for name in ("specversion", "id", "source", "type")}
        has_time = bool(doc.get("time"))
    for name, value in present.items():
        if not value:
            raise MalformedEventError(
                f"CloudEvent attribute {name!r} is missing or empty", field=name
            )
    return has_time


def _is_structured(content_type: str) -> bool:
    """Whether a request is in structured mode. The Content-Type decides, before any ``ce-*``
    header (CloudEvents HTTP binding 1.0 §3.1, and the SDK reads it so): a structured body
    that also carries ``ce-*`` headers is read, and checked, as structured."""
    return content_type.startswith(STRUCTURED_CONTENT_TYPE)


def _missing(exc: Exception) -> str:
    text = str(exc)
    for name in ("specversion", "id", "source", "type"):
        if name in text:
            return name
    return "body"


@dataclass(frozen=True)
class OutgoingEvent:
    """A CloudEvent we emit; ``data`` is JSON-serialisable."""

    type: str
    source: str
    id: str
    data: Any
    subject: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (stored in the inbox to answer duplicates identically)."""
        return {
            "type": self.type,
            "source": self.source,
            "id": self.id,
            "data": self.data,
            "subject": self.subject,
            "extensions": self.extensions,
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> OutgoingEvent:
        return cls(
            type=raw["type"],
            source=raw["source"],
            id=raw["id"],
            data=raw.get("data"),
            subject=raw.get("subject"),
            extensions=dict(raw.get("extensions") or {}),
            time=raw.get("time") or datetime.now(UTC).isoformat(),
        )


def to_binary_http(event: OutgoingEvent) -> tuple[dict[str, str], bytes]:
    """Headers and body of ``event`` in binary content mode (JSON data)."""
    attrs: dict[str, Any] = {
        "type": event.type,
        "source": event.source,
        "id": event.id,
        "time": event.time,
        "datacontenttype": "application/json",
    }
    if event.subject:
        attrs["subject"] = event.subject
    attrs.update(event.extensions)
    if isinstance(event.data, dict | list) and not _SDK_NAMES & event.extensions.keys():
        # What the SDK writes for JSON data and plain extensions, without building its objects
        # (the runtime's hot path, issue 12): Content-Type, the 1.0 attributes in its order,
        # the extensions as given, the data through json.dumps.
        headers = {"content-type": attrs.pop("datacontenttype"), "ce-specversion": "1.0"}
        for name in ("id", "source", "type", "subject", "time"):
            if name in attrs:
                headers[f"ce-{name}"] = header_value(attrs.pop(name))
        headers.update((f"ce-{name}", header_value(value)) for name, value in attrs.items())
        return headers, json.dumps(event.data).encode()
    ce = CloudEvent(attrs, event.data)
    headers, body = to_binary(ce)
    encoded = {k: header_value(v) if k.startswith("ce-") else v for k, v in headers.items()}
    return encoded, body if isinstance(body, bytes) else str(body).encode()


def header_value(value: str) -> str:
    """A binary-mode ``ce-*`` header value: printable ASCII but space, ``"`` and ``%`` as is,
    the rest percent-encoded as UTF-8 (CloudEvents HTTP binding 1.0 §3.1.3.2);
    :func:`read_event` decodes it."""
    return quote(value, safe=_HEADER_SAFE)


#: What a ``ce-*`` header value carries as is: printable ASCII but space, ``"`` and ``%``; the
#: rest is percent-encoded as UTF-8 (CloudEvents HTTP binding 1.0 §3.1.3.2), so an attribute
#: from input (a workflow uid as ``subject``) can never make a header HTTP cannot carry.
_HEADER_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')
