"""The one writer of ``runtime.dead_letters``: an event a subscriber could not take, kept for
inspection and replay (DESIGN §6: dead letters are per event *and* subscriber).

Every path writes here, through :func:`record` and its one conflict rule:

* a function refusing an event itself (4xx, :func:`store`, best effort in a transaction of its
  own, so the refusal is answered even when the database is down);
* the dead-letter sink (``functions/dead_letter``) storing what the Broker gave up on, inside
  its inbox transaction (a failure is a 503, and the record waits in Kafka);
* the agent-message ingester keeping a malformed message (:mod:`shared.agents.store`).

A function's refusal and the sink's copy name the same failure, so they share one row per
``(subscriber, event_source, event_id)``. The rule when the row exists: the newest ``reason``
and ``error_code`` win when given (a missing one keeps the stored one); ``error_body`` and
``attributes`` are merged, the newest keys winning (the sink's copy adds the ``knativeerror*``
extensions, and its body may be a truncated ``raw`` beside the function's full one);
``received_at`` becomes the time of the newest failure; ``data`` stays as first stored (bytea,
byte-exact).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.db import Database, Tx
from shared.runtime import limits
from shared.telemetry import observability

__all__ = ["DEFAULT_REASON", "DeadLetter", "mark_replayed", "record", "store"]

log = logging.getLogger("codex_judge.runtime")

#: The reason of a dead letter whose failure says nothing more.
DEFAULT_REASON = "delivery failed"

SQL_UPSERT = """
INSERT INTO runtime.dead_letters
    (subscriber, event_source, event_id, event_type, attributes, data, reason, error_code,
     error_body)
VALUES (:subscriber, :source, :id, :type, CAST(:attributes AS jsonb), :data,
        COALESCE(CAST(:reason AS text), :default_reason), :code, CAST(:body AS jsonb))
ON CONFLICT (subscriber, event_source, event_id) DO UPDATE
    SET reason = COALESCE(CAST(:reason AS text), runtime.dead_letters.reason),
        error_code = COALESCE(EXCLUDED.error_code, runtime.dead_letters.error_code),
        error_body = COALESCE(runtime.dead_letters.error_body, '{}'::jsonb)
                     || EXCLUDED.error_body,
        attributes = runtime.dead_letters.attributes || EXCLUDED.attributes,
        received_at = now()
"""


@dataclass(frozen=True)
class DeadLetter:
    """One failed delivery of an event (or message) to one subscriber.

    Attributes:
        subscriber: the Knative Service or consumer that failed it (``run-complete``).
        source: the event's ``source`` (the row key's second part; ``unknown`` when absent).
        event_id: the event's ``id`` (the row key's third part).
        event_type: the event's ``type``, or None.
        attributes: the event's context attributes and extensions (``id``, ``source``,
            ``type`` … and the ``knativeerror*`` extensions from the Broker).
        data: the event's data as received (bytes, stored byte-exact).
        reason: a human-readable cause, or None when the failure says nothing
            (:data:`DEFAULT_REASON` on a new row; the stored one on an existing row).
        code: the HTTP status the subscriber answered (3 digits), or None.
        body: the subscriber's JSON error body (``{"error", "message", "field"}``), or ``{}``.
    """

    subscriber: str
    source: str
    event_id: str
    event_type: str | None
    attributes: dict[str, Any]
    data: bytes
    reason: str | None
    code: int | None
    body: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_event(
        cls,
        subscriber: str,
        attributes: Mapping[str, Any],
        data: bytes,
        *,
        reason: str | None,
        code: int | None,
        body: Mapping[str, Any] | None = None,
    ) -> DeadLetter:
        """A dead letter keyed by the event's own attributes: ``source`` (``unknown`` for a
        request that never became an event), ``id`` (else ``sha256:<64 hex of data>``, for a
        request without ``ce-id``) and ``type``."""
        return cls(
            subscriber=subscriber,
            source=str(attributes.get("source") or "unknown"),
            event_id=str(attributes.get("id") or "sha256:" + hashlib.sha256(data).hexdigest()),
            event_type=None if attributes.get("type") is None else str(attributes["type"]),
            attributes=dict(attributes),
            data=data,
            reason=reason,
            code=code,
            body=dict(body or {}),
        )


def record(tx: Tx, letter: DeadLetter) -> None:
    """Insert ``letter``, or merge it into the row of the same (subscriber, source, id), in
    ``tx`` (the rule is in the module docstring).

    Hostile input must still be storable: NUL, lone surrogates and non-finite numbers are
    scrubbed from the text and jsonb columns (:func:`shared.runtime.limits.scrub`).

    Raises:
        TransientError: the database is unavailable (from ``tx``).
    """
    attributes, body = limits.scrub(letter.attributes), limits.scrub(letter.body)
    tx.run(
        SQL_UPSERT,
        subscriber=letter.subscriber,
        source=letter.source,
        id=letter.event_id,
        type=letter.event_type,
        attributes=json.dumps(attributes, default=str),
        data=letter.data,
        reason=None if letter.reason is None else limits.scrub(letter.reason),
        default_reason=DEFAULT_REASON,
        code=letter.code,
        body=json.dumps(body, default=str),
    )


SQL_MARK_REPLAYED = "UPDATE runtime.dead_letters SET replayed_at = now() WHERE id = :id"


def mark_replayed(tx: Tx, dead_letter_id: int) -> None:
    """Record that an operator posted dead letter ``dead_letter_id`` to the Broker again
    (:mod:`shared.operator.actions`); a later failure of the replay is a new failure of the same
    row, merged by :func:`record`."""
    tx.run(SQL_MARK_REPLAYED, id=dead_letter_id)


# Retention (functions.scheduler.retention): replayed letters past the horizon, oldest first.
SQL_PURGE_REPLAYED = """
DELETE FROM runtime.dead_letters WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM runtime.dead_letters
    WHERE replayed_at IS NOT NULL AND replayed_at < now() - make_interval(days => :days)
    ORDER BY replayed_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED))
"""


def purge_replayed(tx: Tx, *, days: int, batch: int) -> int:
    """Delete at most ``batch`` letters replayed more than ``days`` days ago (never one not
    replayed); returns how many."""
    return max(0, tx.run(SQL_PURGE_REPLAYED, days=days, batch=batch))


def store(db: Database, letter: DeadLetter) -> None:
    """Record a function's own refusal of an event in a transaction of its own; best effort,
    never raises (the Broker's dead-letter sink still gets the event when this fails). Counts
    it in ``codexjudge.dead_letters``."""
    observability.DEAD_LETTERS.add(1, {"function": letter.subscriber})
    try:
        with db.transaction() as tx:
            record(tx, letter)
    except Exception:
        log.exception("could not store dead letter", extra={"event_id": letter.event_id})
