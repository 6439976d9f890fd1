"""The runtime every function shares: read the CloudEvent, dedupe through the inbox, run the use
case in one transaction, reply, and map failures to the delivery contract (DESIGN §6).

A use case is ``handler(event, ctx) -> Outcome``:

* :class:`Reply` → HTTP 200 with a binary-mode CloudEvent (the Broker routes it on);
* :class:`NoReply` → HTTP 202 with an empty body ("nothing to say").

The inbox row ``(consumer, source, id)`` is inserted at the start of the same transaction as the
use case's writes and holds the reply, so a duplicate delivery is answered with the same reply
and changes nothing; a duplicate that arrives while the first is still in progress gets 409
(Knative retries it later, and it is then answered from the inbox). Errors:

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

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import flask
from pydantic import BaseModel

from shared import bootstrap
from shared.bootstrap import Container
from shared.db import Tx
from shared.errors import (
    CodexJudgeError,
    ConfigurationError,
    ConflictError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    PermanentError,
    RateLimitedError,
    SchemaBehindError,
    UnauthorizedError,
)
from shared.runtime import limits, observability
from shared.runtime.envelope import Envelope, OutgoingEvent, read_event, to_binary_http
from shared.runtime.gate import ALLOWED_METHODS, check_data, read_body, readiness

log = logging.getLogger("codex_judge.runtime")


@dataclass(frozen=True)
class Reply:
    """Answer with a CloudEvent. ``key`` makes the reply id deterministic: the same fact
    replied twice has the same id, so downstream inboxes drop the copy."""

    type: str
    data: BaseModel | dict[str, Any]
    key: str
    subject: str | None = None
    run_id: int | None = None


@dataclass(frozen=True)
class NoReply:
    """Nothing to say (HTTP 202). ``note`` explains why, for logs and tests."""

    note: str = ""
    run_id: int | None = None


Outcome = Reply | NoReply


@dataclass
class Context:
    """What a use case gets: the open transaction, the dependencies and a bound logger."""

    tx: Tx
    deps: Container
    consumer: str
    log: logging.LoggerAdapter[logging.Logger]
    extensions_out: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Envelope, Context], Outcome]


def reply_event(
    consumer: str, source_prefix: str, reply: Reply, extensions: dict[str, str]
) -> OutgoingEvent:
    """Build the outgoing CloudEvent for ``reply`` (id = ``<consumer>:<key>`` hashed)."""
    data = reply.data.model_dump(mode="json") if isinstance(reply.data, BaseModel) else reply.data
    digest = hashlib.sha256(f"{consumer}\0{reply.key}".encode()).hexdigest()[:32]
    return OutgoingEvent(
        type=reply.type,
        source=f"{source_prefix.rstrip('/')}/{consumer}",
        id=digest,
        data=data,
        subject=reply.subject,
        extensions=extensions,
    )


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


def store_dead_letter(
    deps: Container,
    subscriber: str,
    attributes: dict[str, Any],
    data: bytes,
    reason: str,
    code: int,
    body: dict[str, Any],
) -> None:
    """Insert (or refresh) a dead letter; best effort, never raises."""
    observability.DEAD_LETTERS.add(1, {"function": subscriber})
    # Hostile input must still be storable: NUL, lone surrogates and huge numbers are scrubbed
    # from the jsonb/text columns (the data itself is bytea, kept byte-exact).
    attributes, body = limits.scrub(attributes), limits.scrub(body)
    reason = limits.scrub(reason)
    source = str(attributes.get("source") or "unknown")
    event_id = str(attributes.get("id") or "sha256:" + hashlib.sha256(data).hexdigest())
    try:
        with deps.db.transaction() as tx:
            tx.run(
                SQL_INSERT_DEAD_LETTER,
                subscriber=subscriber,
                source=source,
                id=event_id,
                type=attributes.get("type"),
                attributes=json.dumps(attributes, default=str),
                data=data,
                reason=reason,
                code=code,
                body=json.dumps(body, default=str),
            )
    except Exception:  # the Broker's dead-letter sink will still get it
        log.exception("could not store dead letter", extra={"event_id": event_id})


SQL_INSERT_DEAD_LETTER = """
INSERT INTO runtime.dead_letters
    (subscriber, event_source, event_id, event_type, attributes, data, reason, error_code,
     error_body)
VALUES (:subscriber, :source, :id, :type, CAST(:attributes AS jsonb), :data, :reason, :code,
        CAST(:body AS jsonb))
ON CONFLICT (subscriber, event_source, event_id) DO UPDATE
    SET reason = EXCLUDED.reason, error_code = EXCLUDED.error_code,
        error_body = EXCLUDED.error_body, received_at = now()
"""

# A transaction-scoped advisory lock per (consumer, source, id): a concurrent duplicate gets 409
# at once instead of holding a pooled connection while it waits on the first one's inbox row.
SQL_TRY_LOCK = (
    "SELECT pg_try_advisory_xact_lock(hashtext(:consumer), hashtext(:source || ' ' || :id)) AS ok"
)

SQL_INBOX_CLAIM = """
INSERT INTO runtime.inbox (consumer, source, event_id, event_type)
VALUES (:consumer, :source, :id, :type)
ON CONFLICT DO NOTHING
RETURNING event_id
"""
SQL_INBOX_GET = """
SELECT reply FROM runtime.inbox WHERE consumer = :consumer AND source = :source AND event_id = :id
"""
SQL_INBOX_DONE = """
UPDATE runtime.inbox SET reply = CAST(:reply AS jsonb), run_id = :run_id
WHERE consumer = :consumer AND source = :source AND event_id = :id
"""


def process(
    consumer: str, handler: Handler, event: Envelope, deps: Container
) -> OutgoingEvent | None:
    """Run ``handler`` for ``event`` exactly once per (consumer, source, id); returns the reply.

    Raises:
        CodexJudgeError: whatever the use case raised (the transaction is rolled back).
    """
    bound = logging.LoggerAdapter(
        log,
        {
            "function": consumer,
            "event_id": event.id,
            "event_type": event.type,
            "event_source": event.source,
        },
    )
    with deps.db.transaction() as tx:
        keys = {"consumer": consumer, "source": event.source, "id": event.id}
        lock = tx.one(SQL_TRY_LOCK, **keys)
        if not (lock and lock["ok"]):
            raise ConflictError("the same event is being processed by another delivery")
        if tx.one(SQL_INBOX_CLAIM, type=event.type, **keys) is None:
            row = tx.one(SQL_INBOX_GET, **keys)
            stored = row["reply"] if row else None
            bound.info("duplicate delivery answered from the inbox")
            return OutgoingEvent.from_dict(stored) if stored else None
        ctx = Context(tx=tx, deps=deps, consumer=consumer, log=bound)
        with observability.event_span(consumer, event):
            outcome = handler(event, ctx)
            trace_ext = observability.trace_extensions()
        out: OutgoingEvent | None = None
        if isinstance(outcome, Reply):
            # The reply continues this event's trace: our span's context when tracing is on,
            # else the incoming context passed through unchanged.
            incoming = {
                k: v for k, v in event.extensions.items() if k in ("traceparent", "tracestate")
            }
            ext = {**ctx.extensions_out, **(trace_ext or incoming)}
            out = reply_event(consumer, deps.settings.event_source, outcome, ext)
        tx.run(
            SQL_INBOX_DONE,
            reply=json.dumps(out.to_dict()) if out else None,
            run_id=outcome.run_id,
            **keys,
        )
    bound.info(
        "handled",
        extra={
            "run_id": outcome.run_id,
            "reply_type": out.type if out else None,
            "note": outcome.note if isinstance(outcome, NoReply) else None,
        },
    )
    return out


def cloudevent_function(
    consumer: str, handler: Handler
) -> Callable[[flask.Request], flask.Response]:
    """Wrap a use case as a functions-framework ``http`` function.

    Args:
        consumer: the Knative Service name (``run-complete``); the inbox key's first part.
        handler: the use case.
    """

    def entrypoint(request: flask.Request) -> flask.Response:
        if request.method in ("GET", "HEAD"):
            return readiness(consumer)
        deps = bootstrap.container()
        headers = dict(request.headers)
        body = b""
        try:
            body = read_body(request, deps.settings.max_body_bytes)
            event = read_event(headers, body)
        except PermanentError as exc:
            return reject(deps, consumer, headers, body, exc)
        return run_event(consumer, handler, event, deps)

    entrypoint.__name__ = consumer.replace("-", "_")
    return entrypoint


def reject(
    deps: Container,
    consumer: str,
    headers: dict[str, str],
    body: bytes,
    exc: PermanentError,
) -> flask.Response:
    """Answer a request refused before it became an event: store a dead letter (attributes
    from its ``ce-*`` headers; forged input, 401, is stored nowhere), log, reply 4xx JSON."""
    if not isinstance(exc, UnauthorizedError):
        attrs = {
            k[3:]: v for k, v in ((k.lower(), v) for k, v in headers.items()) if k.startswith("ce-")
        }
        store_dead_letter(deps, consumer, attrs, body, exc.message, exc.status, exc.body())
    log.warning("request rejected", extra={"function": consumer, "error": exc.body()})
    return error_response(exc)


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
    except PermanentError as exc:
        if not isinstance(exc, UnauthorizedError):
            store_dead_letter(
                deps, consumer, event.attributes(), event.data, exc.message, exc.status, exc.body()
            )
        log.warning(
            "event rejected",
            extra={"function": consumer, "event_id": event.id, "error": exc.body()},
        )
        return error_response(exc)
    except ConfigurationError as exc:
        log.error(
            "misconfigured: %s",
            exc.message,
            extra={"function": consumer, "event_id": event.id, "error": exc.body()},
        )
        return error_response(exc)
    except CodexJudgeError as exc:
        if not isinstance(exc, SchemaBehindError):  # SchemaGate logs it once per process
            log.warning(
                "transient failure",
                extra={"function": consumer, "event_id": event.id, "error": exc.body()},
            )
        return error_response(exc)
    except Exception:
        log.exception("unexpected failure", extra={"function": consumer, "event_id": event.id})
        return json_response(
            500,
            {
                "error": "InternalError",
                "message": "unexpected failure; the delivery will be retried",
            },
        )
