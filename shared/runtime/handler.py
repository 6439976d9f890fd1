"""The HTTP side of every function: read the CloudEvent, run it through the inbox, reply, and
map failures to the delivery contract (DESIGN §6).

What a use case answers (:class:`~shared.runtime.outcomes.Reply` → 200 with a binary-mode
CloudEvent, :class:`~shared.runtime.outcomes.NoReply` → 202) is in
:mod:`shared.runtime.outcomes`; exactly-once handling in :mod:`shared.runtime.inbox`; dead
letters in :mod:`shared.runtime.dead_letters`. Errors (:func:`failure_response`, the one
mapping every entrypoint uses):

* :class:`~shared.errors.PermanentError` → 400/401/422 with ``{"error", "message", "field"}``;
  the event is stored in ``runtime.dead_letters`` (except 401: forged input is stored nowhere);
* :class:`~shared.errors.TransientError` → 503 (429 with ``Retry-After``; 409); a
  :class:`~shared.errors.SchemaBehindError` (the schema lacks this build's migrations, checked
  by the first transaction) is logged once per process by the check, not per request;
* :class:`~shared.errors.ConfigurationError` (e.g. Postgres TLS that cannot verify) → 500 with
  its message, logged at ERROR: Knative retries a bounded number of times, then the event waits
  in the dead-letter sink for the operator's fix;
* anything else → 500 (Knative retries), logged with its traceback; never a crash.

Before any use case, every request passes one gate (DESIGN §11): ``GET``/``HEAD`` on any path
is the readiness answer (Knative probes ``/healthz``); any method but POST → 405 with
``Allow: GET, HEAD, POST``; a body over ``max_body_bytes`` → 413, never read past the limit;
JSON ``data`` must pass :mod:`shared.runtime.limits` (depth, numbers, strings) → else 422 naming the
field. Each rejection is a JSON body naming the field and a row in ``runtime.dead_letters``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import flask

from shared.errors import (
    CodexJudgeError,
    ConfigurationError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    PermanentError,
    RateLimitedError,
    SchemaBehindError,
    UnauthorizedError,
)
from shared.runtime import dead_letters
from shared.runtime.envelope import Envelope, OutgoingEvent, read_event, to_binary_http
from shared.runtime.gate import ALLOWED_METHODS, check_data, read_body, readiness
from shared.runtime.inbox import process
from shared.runtime.outcomes import Handler
from shared.telemetry import observability

if TYPE_CHECKING:
    from shared.bootstrap import Container

log = logging.getLogger("codex_judge.runtime")


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> flask.Response:
    """A JSON HTTP response."""
    return flask.Response(
        json.dumps(body), status=status, mimetype="application/json", headers=headers or {}
    )


def event_response(event: OutgoingEvent | None) -> flask.Response:
    """200 with the binary-mode CloudEvent, or 202 with an empty body."""
    if event is None:
        return flask.Response(b"", status=202)
    headers, body = to_binary_http(event)
    return flask.Response(body, status=200, headers=headers)


def error_response(exc: CodexJudgeError) -> flask.Response:
    """Map an error to its status code and JSON body (``Retry-After`` in whole seconds)."""
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, MethodNotAllowedError):
        headers["Allow"] = ALLOWED_METHODS
    if isinstance(exc, PayloadTooLargeError):
        headers["Connection"] = "close"  # the rest of the body may be unread
    return json_response(exc.status, exc.body(), headers)


def cloudevent_function(
    consumer: str,
    handler: Handler,
    container: Callable[[], Container],
    *,
    inbox: Callable[[Envelope], str] | None = None,
    check: bool = True,
) -> Callable[[flask.Request], flask.Response]:
    """Wrap a use case as a functions-framework ``http`` function.

    Args:
        consumer: the Knative Service name (``run-complete``); the inbox key's first part.
        handler: the use case.
        container: the process's container, built on first use (``bootstrap.container``: the
            function's ``main.py`` is the composition root, so the runtime imports no container).
        inbox: the inbox consumer of an event, when it is not ``consumer`` (the dead-letter
            sink keys its inbox per failing subscriber).
        check: apply the input limits to JSON data (see :func:`run_event`).
    """

    def entrypoint(request: flask.Request) -> flask.Response:
        if request.method in ("GET", "HEAD"):
            return readiness(consumer)
        deps = container()
        headers = dict(request.headers)
        body = b""
        try:
            body = read_body(request, deps.settings.max_body_bytes)
            event = read_event(headers, body)
        except PermanentError as exc:
            return reject(deps, consumer, headers, body, exc)
        key = inbox(event) if inbox is not None else consumer
        return run_event(key, handler, event, deps, check=check)

    entrypoint.__name__ = consumer.replace("-", "_")
    return entrypoint


def reject(
    deps: Container,
    consumer: str,
    headers: Mapping[str, str],
    body: bytes,
    exc: PermanentError,
) -> flask.Response:
    """Answer a request refused before it became an event: a dead letter whose attributes are
    its ``ce-*`` headers (forged input, 401, is stored nowhere), a log line, 4xx JSON."""
    attrs = {
        k[3:]: v for k, v in ((k.lower(), v) for k, v in headers.items()) if k.startswith("ce-")
    }
    return failure_response(deps, consumer, exc, attributes=attrs, data=body, what="request")


def failure_response(
    deps: Container,
    consumer: str,
    exc: Exception,
    *,
    attributes: Mapping[str, Any],
    data: bytes,
    what: str = "event",
    retry_hint: str = "the delivery will be retried",
) -> flask.Response:
    """The delivery contract's answer to ``exc`` (the mapping in the module docstring): store a
    dead letter for a permanent error other than 401, log at the level the error calls for,
    and answer its status and JSON body.

    Args:
        deps: the container (the dead letter's database).
        consumer: the function (``run-complete``): the dead letter's subscriber, the log's
            ``function``.
        exc: what the delivery raised.
        attributes: the event's attributes (``id``, ``source``, ``type`` …) for the dead letter.
        data: the body or event data as received (stored byte-exact).
        what: what was refused, for the log line (``event``, ``request``, ``webhook``).
        retry_hint: the end of the 500 answer's message (who retries an unexpected failure).
    """
    extra = {"function": consumer, "event_id": attributes.get("id")}
    if isinstance(exc, PermanentError):
        if not isinstance(exc, UnauthorizedError):
            letter = dead_letters.DeadLetter.of_event(
                consumer, attributes, data, reason=exc.message, code=exc.status, body=exc.body()
            )
            dead_letters.store(deps.db, letter)
        log.warning(f"{what} rejected", extra={**extra, "error": exc.body()})
        return error_response(exc)
    if isinstance(exc, ConfigurationError):
        log.error("misconfigured: %s", exc.message, extra={**extra, "error": exc.body()})
        return error_response(exc)
    if isinstance(exc, CodexJudgeError):
        if not isinstance(exc, SchemaBehindError):  # SchemaGate logs it once per process
            log.warning("transient failure", extra={**extra, "error": exc.body()})
        return error_response(exc)
    log.error("unexpected failure", exc_info=exc, extra=extra)
    return json_response(
        500, {"error": "InternalError", "message": f"unexpected failure; {retry_hint}"}
    )


def run_event(
    consumer: str, handler: Handler, event: Envelope, deps: Container, *, check: bool = True
) -> flask.Response:
    """Process a parsed event and turn the outcome or error into the HTTP answer.

    ``check`` applies the input limits to JSON data first (:func:`shared.runtime.gate.check_data`);
    only the dead-letter sink, which stores data as raw bytes, turns it off.
    """
    with observability.measured(consumer) as outcome:
        response = _run_event(consumer, handler, event, deps, check)
        outcome["status"] = response.status_code
    return response


def _run_event(
    consumer: str, handler: Handler, event: Envelope, deps: Container, check: bool
) -> flask.Response:
    try:
        if check:
            check_data(event)
        return event_response(process(consumer, handler, event, deps))
    except Exception as exc:
        return failure_response(deps, consumer, exc, attributes=event.attributes(), data=event.data)
