"""The envelope reads and writes binary-mode CloudEvents 1.0 without building the SDK's objects
(the runtime's hot path, issue 12): what it reads and writes must be exactly what the
``cloudevents`` SDK reads and writes, on every request; and the event's JSON data is parsed once
and shared by the runtime's check and the use case."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent, from_http
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import InvalidDataError, MalformedEventError
from shared.runtime.envelope import (
    Envelope,
    OutgoingEvent,
    header_value,
    read_event,
    to_binary_http,
)
from shared.runtime.gate import check_data

_CORE = {"id", "source", "type", "specversion", "subject", "time", "datacontenttype"}
_CORE |= {"dataschema", "data", "data_base64"}

TEXT = st.sampled_from(["a", "run 1", "ü", "%20", "a%00b", "x\x00", "2020-01-01T00:00:00Z"])
NAMES = st.sampled_from(
    ["subject", "time", "dataschema", "datacontenttype", "traceparent", "key", "data_base64", "x"]
)
CONTENT_TYPES = st.sampled_from(["application/json", "text/plain; charset=utf-8", "application/x"])


@st.composite
def binary_requests(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    """Binary-mode 1.0 requests as a sender may spell them: any header case, optional
    attributes, extensions, ``Content-Type`` and ``ce-datacontenttype`` in either order."""
    headers = {"ce-specversion": "1.0"}
    for name in ("id", "source", "type"):
        spelled = draw(st.sampled_from([f"ce-{name}", f"Ce-{name.title()}", f"CE-{name.upper()}"]))
        headers[spelled] = draw(TEXT.filter(bool))
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            headers[draw(st.sampled_from(["Content-Type", "content-type"]))] = draw(CONTENT_TYPES)
        else:
            headers[f"ce-{draw(NAMES)}"] = draw(TEXT)
    return headers, draw(st.sampled_from([b"", b"{}", b"not json", b'{"a": [1]}']))


def _read_by_sdk(headers: dict[str, str], body: bytes) -> Envelope | tuple[str, str | None]:
    """The envelope of the SDK's reading of the request, or (error, field)."""
    lowered = {
        k.lower(): unquote(v) if k.lower().startswith("ce-") else v for k, v in headers.items()
    }
    attrs = from_http(lowered, body, data_unmarshaller=lambda raw: raw).get_attributes()
    for name, value in attrs.items():
        if "\x00" in value:
            return ("MalformedEventError", name)
    data = from_http(lowered, body, data_unmarshaller=lambda raw: raw).get_data()
    return Envelope(
        id=attrs["id"],
        source=attrs["source"],
        type=attrs["type"],
        subject=attrs.get("subject"),
        time=attrs["time"] if lowered.get("ce-time") else None,
        datacontenttype=attrs.get("datacontenttype"),
        data=data or b"",
        extensions={k: v for k, v in attrs.items() if k not in _CORE},
    )


def _read(headers: dict[str, str], body: bytes) -> Envelope | tuple[str, str | None]:
    try:
        return read_event(headers, body)
    except MalformedEventError as exc:
        return ("MalformedEventError", exc.field)


@settings(max_examples=400, derandomize=True)
@given(binary_requests())
def test_a_binary_request_is_read_as_the_sdk_reads_it(
    request: tuple[dict[str, str], bytes],
) -> None:
    headers, body = request
    assert _read(headers, body) == _read_by_sdk(headers, body)


EXTENSIONS = st.dictionaries(
    st.sampled_from(["traceparent", "tracestate", "runid", "key"]), TEXT, max_size=3
)


@settings(max_examples=300, derandomize=True)
@given(
    st.sampled_from(["io.codexjudge.run.completed.v1", "type ü"]),
    st.sampled_from(["1", "a b", "id\x7f"]),
    st.sampled_from([None, "", "uid-1", 'a"b']),
    EXTENSIONS,
    st.sampled_from([{"run_id": 1, "name": "ü"}, [1, "a"], {}]),
)
def test_a_reply_is_written_as_the_sdk_writes_it(
    kind: str, event_id: str, subject: str | None, extensions: dict[str, str], data: Any
) -> None:
    event = OutgoingEvent(
        type=kind, source="/codex-judge/run-complete", id=event_id, data=data, subject=subject
    )
    event = OutgoingEvent(**{**event.to_dict(), "extensions": extensions})
    attrs = {"type": kind, "source": event.source, "id": event_id, "time": event.time}
    attrs |= {"datacontenttype": "application/json"}
    if subject:
        attrs["subject"] = subject
    sdk_headers, sdk_body = to_binary(CloudEvent({**attrs, **extensions}, data))
    expected = {k: header_value(v) if k.startswith("ce-") else v for k, v in sdk_headers.items()}
    headers, body = to_binary_http(event)
    assert list(headers.items()) == list(expected.items())
    assert body == sdk_body


def test_an_extension_named_as_an_attribute_is_written_by_the_sdk() -> None:
    event = OutgoingEvent(type="t", source="/s", id="1", data={}, extensions={"subject": "s"})
    headers, _ = to_binary_http(event)
    assert headers["ce-subject"] == "s"


def _event(data: bytes) -> Envelope:
    return Envelope(id="1", source="/s", type="t", data=data)


def test_the_check_and_the_use_case_share_one_parse() -> None:
    event = _event(b'{"metadata": {"uid": "u"}}')
    check_data(event)
    assert event.json() is event.json()
    assert event.json_object() is event.json()


@pytest.mark.parametrize(
    "data",
    [
        json.dumps({"a": 1}).encode("utf-16"),  # JSON, but not UTF-8: read from the bytes
        b"\xef\xbb\xbf" + b'{"a": 1}',  # a byte order mark
        b'{"t": "\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8
        b"a: 1\n",  # YAML
        b"[1, 2]",
        b'"{}"',
    ],
)
def test_only_utf8_json_text_holding_an_object_is_offered_as_one(data: bytes) -> None:
    assert _event(data).json_object() is None


def test_a_limit_is_still_refused_when_the_object_is_asked_for() -> None:
    with pytest.raises(InvalidDataError) as refused:
        _event(b'{"pr_number": 2147483648}').json_object()
    assert refused.value.field == "data.pr_number"
