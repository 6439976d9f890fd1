"""The agent-message ingester: a durable JetStream pull consumer that stores messages in
Postgres and acks them only after the commit (issue 15).

One cycle (:meth:`Ingester.cycle`) fetches up to ``batch`` messages and:

1. turns each into a row (:func:`shared.agents.messages.to_row`); a malformed one is kept as a
   dead letter and acked in the same transaction's wake — it is never redelivered forever;
2. inserts the rows in one transaction (``ON CONFLICT DO NOTHING`` on the dedupe key: a
   redelivered or re-published message is stored once) and acks every message after the commit;
   a crash between commit and ack only means a redelivery, which stores nothing new;
3. when the database is unreachable, naks every message with a delay (JetStream redelivers);
   when the batch fails for another reason, stores the messages one by one, so one row Postgres
   refuses does not hold back the others: that message is nak'ed and redelivered, and after
   ``max_deliver`` deliveries it becomes a dead letter and is acked.

The consumer itself (explicit acks, ``max_deliver``, ``ack_wait``) is declared by the NACK
``Consumer`` object in ``knative/base/agents/`` and created locally from that same manifest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.agents.messages import MalformedMessageError, Row, to_row
from shared.agents.store import dead_letter, insert_rows
from shared.db import Database
from shared.errors import TransientError

log = logging.getLogger("codex_judge.agents.ingest")

#: Seconds JetStream waits before redelivering a message this ingester nak'ed.
NAK_DELAY_S = 2.0


@dataclass(frozen=True)
class CycleResult:
    """What one cycle did: messages fetched, rows newly stored, dead letters, naks."""

    fetched: int = 0
    stored: int = 0
    dead_lettered: int = 0
    nakked: int = 0


@dataclass
class _Pending:
    msg: Any  # nats.aio.msg.Msg
    row: Row | None = None
    malformed: str | None = None

    @property
    def message_id(self) -> str:
        headers = self.msg.headers or {}
        return str(headers.get("Nats-Msg-Id") or f"seq:{self.msg.metadata.sequence.stream}")


class Ingester:
    """Store what the durable ``consumer`` of ``stream`` delivers into ``db``.

    Args:
        db: the database (its pool is used from worker threads: pg8000 is blocking).
        subscription: a ``nats.js`` pull subscription bound to the durable consumer.
        batch: the most messages fetched per cycle.
        max_deliver: the consumer's ``max_deliver`` (a message refused that often is a dead
            letter).
    """

    def __init__(self, db: Database, subscription: Any, *, batch: int, max_deliver: int) -> None:
        self.db = db
        self.subscription = subscription
        self.batch = batch
        self.max_deliver = max_deliver

    async def cycle(self, timeout_s: float) -> CycleResult:
        """Fetch, store and acknowledge one batch; an empty fetch after ``timeout_s`` seconds is
        an empty result."""
        import nats.errors

        try:
            msgs = await self.subscription.fetch(self.batch, timeout=timeout_s)
        except (TimeoutError, nats.errors.TimeoutError):
            return CycleResult()
        pending = [self._parse(msg) for msg in msgs]
        try:
            stored = await asyncio.to_thread(self._store, pending)
        except TransientError as exc:
            log.warning("database unavailable, %d messages nak'ed: %s", len(pending), exc)
            for item in pending:
                await item.msg.nak(delay=NAK_DELAY_S)
            return CycleResult(fetched=len(pending), nakked=len(pending))
        except Exception:
            log.exception("batch refused; storing its %d messages one by one", len(pending))
            return await self._one_by_one(pending)
        for item in pending:
            await item.msg.ack()
        dead = sum(item.malformed is not None for item in pending)
        return CycleResult(fetched=len(pending), stored=stored, dead_lettered=dead)

    def _parse(self, msg: Any) -> _Pending:
        item = _Pending(msg)
        try:
            item.row = to_row(msg.subject, msg.data, msg.headers, msg.metadata.sequence.stream)
        except MalformedMessageError as exc:
            item.malformed = str(exc)
        return item

    def _store(self, pending: Sequence[_Pending]) -> int:
        with self.db.transaction() as tx:
            for item in pending:
                if item.malformed is not None:
                    dead_letter(
                        tx,
                        item.msg.subject,
                        item.message_id,
                        item.msg.data,
                        item.malformed,
                        dict(item.msg.headers or {}),
                    )
            return insert_rows(tx, [item.row for item in pending if item.row], "nats")

    async def _one_by_one(self, pending: Sequence[_Pending]) -> CycleResult:
        stored = dead = nakked = 0
        for item in pending:
            try:
                stored += await asyncio.to_thread(self._store, [item])
            except Exception as exc:
                if item.msg.metadata.num_delivered < self.max_deliver:
                    log.warning("message %s refused, redelivered later: %s", item.message_id, exc)
                    await item.msg.nak(delay=NAK_DELAY_S)
                    nakked += 1
                    continue
                item.row, item.malformed = None, f"refused {self.max_deliver} times: {exc}"
                try:
                    await asyncio.to_thread(self._store, [item])
                except Exception:
                    log.exception("dead letter for %s not stored; nak'ed", item.message_id)
                    await item.msg.nak(delay=NAK_DELAY_S)
                    nakked += 1
                    continue
            dead += item.malformed is not None
            await item.msg.ack()
        return CycleResult(fetched=len(pending), stored=stored, dead_lettered=dead, nakked=nakked)

    async def run(self, stop: asyncio.Event, timeout_s: float = 5.0) -> None:
        """Cycle until ``stop`` is set; a failing cycle is logged and retried after a pause."""
        while not stop.is_set():
            try:
                await self.cycle(timeout_s)
            except Exception:
                log.exception("ingest cycle failed")
                await asyncio.sleep(1.0)


async def serve_ingester(
    db: Database,
    nats_url: str,
    stream: str,
    consumer: str,
    *,
    batch: int,
    stop: asyncio.Event,
) -> None:
    """Connect to NATS (reconnecting for ever), bind to the durable ``consumer`` of ``stream``
    (created by NACK, or locally from the same manifest), and ingest until ``stop`` is set.
    A consumer that does not exist yet is waited for, not created: its settings belong to the
    manifest."""
    import nats

    nc = await nats.connect(nats_url, max_reconnect_attempts=-1, reconnect_time_wait=1)
    try:
        js = nc.jetstream()
        while not stop.is_set():
            try:
                info = await js.consumer_info(stream, consumer)
                break
            except Exception as exc:
                log.warning("consumer %s/%s not ready, retrying: %s", stream, consumer, exc)
                await asyncio.sleep(2.0)
        else:
            return
        subscription = await js.pull_subscribe_bind(durable=consumer, stream=stream)
        ingester = Ingester(
            db, subscription, batch=batch, max_deliver=int(info.config.max_deliver or 10)
        )
        log.info("ingesting %s/%s into Postgres", stream, consumer)
        await ingester.run(stop)
    finally:
        await nc.close()
