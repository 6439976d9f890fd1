"""The inbox: each event is handled exactly once per consumer (DESIGN §6).

The inbox row ``(consumer, source, id)`` is inserted at the start of the same transaction as the
use case's writes and holds the reply, so a duplicate delivery is answered with the same reply
and changes nothing; a duplicate that arrives while the first is still in progress gets
:class:`~shared.errors.ConflictError` (409: Knative retries it later, and it is then answered
from the inbox).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING

from pydantic import BaseModel

from shared.errors import ConflictError
from shared.runtime.envelope import Envelope, OutgoingEvent
from shared.runtime.outcomes import Context, Handler, NoReply, Reply
from shared.telemetry import observability

if TYPE_CHECKING:
    from shared.bootstrap import Container

__all__ = ["process", "reply_event"]

log = logging.getLogger("codex_judge.runtime")

# One round trip claims the event: a transaction-scoped advisory lock per (consumer, source, id)
# (a concurrent duplicate gets 409 at once instead of holding a pooled connection while it waits
# on the first one's inbox row), the inbox row inserted only under that lock, and the stored
# reply of an earlier delivery. ``lock`` calls a volatile function, so Postgres evaluates it
# once, before ``claim`` reads it. ``known``/``reply`` come from the statement's snapshot: a row
# committed by another delivery between the snapshot and the lock is missing from them while
# the insert still conflicts with it, so that case reads the row again (SQL_INBOX_GET).
SQL_INBOX_CLAIM = """
WITH lock AS (
    SELECT pg_try_advisory_xact_lock(hashtext(:consumer), hashtext(:source || ' ' || :id)) AS ok
), claim AS (
    INSERT INTO runtime.inbox (consumer, source, event_id, event_type)
    SELECT :consumer, :source, :id, :type FROM lock WHERE lock.ok
    ON CONFLICT DO NOTHING
    RETURNING event_id
)
SELECT lock.ok,
       EXISTS (SELECT 1 FROM claim) AS claimed,
       earlier.event_id IS NOT NULL AS known,
       earlier.reply
FROM lock
LEFT JOIN runtime.inbox AS earlier
       ON earlier.consumer = :consumer AND earlier.source = :source AND earlier.event_id = :id
"""
SQL_INBOX_GET = """
SELECT reply FROM runtime.inbox WHERE consumer = :consumer AND source = :source AND event_id = :id
"""
SQL_INBOX_DONE = """
UPDATE runtime.inbox SET reply = CAST(:reply AS jsonb), run_id = :run_id
WHERE consumer = :consumer AND source = :source AND event_id = :id
"""


def reply_event(
    consumer: str, source_prefix: str, reply: Reply, extensions: dict[str, str]
) -> OutgoingEvent:
    """Build the outgoing CloudEvent for ``reply``.

    Args:
        consumer: the replying function (``run-complete``); the source's last segment.
        source_prefix: ``settings.event_source`` (``/codex-judge``).
        reply: the use case's reply.
        extensions: CloudEvent extensions to carry (``traceparent`` …).

    Returns:
        The event; its id is the first 32 hex of SHA-256 of ``<consumer>\\0<key>``, so the same
        fact replied twice has the same id.
    """
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


def process(
    consumer: str, handler: Handler, event: Envelope, deps: Container
) -> OutgoingEvent | None:
    """Run ``handler`` for ``event`` exactly once per (consumer, source, id); returns the reply.

    Raises:
        ConflictError: the same event is being processed by another delivery right now.
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
        claim = tx.one(SQL_INBOX_CLAIM, type=event.type, **keys)
        if not (claim and claim["ok"]):
            raise ConflictError("the same event is being processed by another delivery")
        if not claim["claimed"]:
            row = claim if claim["known"] else tx.one(SQL_INBOX_GET, **keys)
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
        # The reply is stored by the transaction's last statement, sent with its COMMIT.
        tx.at_commit(
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
