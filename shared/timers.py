"""Durable timers: "check again later" is a row with a due time, never a sleep (DESIGN §2, §12.1).

``runtime.timers`` holds one pending timer per ``(owner, run_id, kind)``; the owner is the
function (its Knative Service name: ``ci-status``, ``review-gate``, ``judge``, ``deploy``,
``rerun`` …) that handles it when the scheduler wakes it with ``timers.due`` (the scheduler
reads this table on each PingSource tick). A restart loses nothing: the rows are the state.

* :func:`schedule` sets (or moves) a timer; :func:`cancel` retires it;
* :func:`claim_due` returns the due timers of one owner, locked ``FOR UPDATE SKIP LOCKED`` so
  two concurrent ticks never handle the same timer; the caller handles each and calls
  :func:`complete` (or :func:`schedule` again to retry later) in the same transaction;
* :func:`due_by_owner` counts the due timers of every owner in one statement (the scheduler's
  query: it wakes only the owners that have work, DESIGN §4 "Ticks").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db import Tx

SQL_SCHEDULE = """
INSERT INTO runtime.timers (owner, run_id, kind, due_at, payload)
VALUES (:owner, :run_id, :kind, now() + make_interval(secs => :delay_s), CAST(:payload AS jsonb))
ON CONFLICT (owner, run_id, kind) DO UPDATE
    SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, done_at = NULL
"""
SQL_SCHEDULE_IF_ABSENT = """
INSERT INTO runtime.timers (owner, run_id, kind, due_at, payload)
VALUES (:owner, :run_id, :kind, now() + make_interval(secs => :delay_s), CAST(:payload AS jsonb))
ON CONFLICT (owner, run_id, kind) DO NOTHING
"""
SQL_CANCEL = """
UPDATE runtime.timers SET done_at = now()
WHERE owner = :owner AND run_id = :run_id AND kind = :kind AND done_at IS NULL
"""
SQL_CLAIM_DUE = """
SELECT id, owner, run_id, kind, due_at, payload
FROM runtime.timers
WHERE owner = :owner AND done_at IS NULL AND due_at <= now()
ORDER BY due_at
LIMIT :limit
FOR UPDATE SKIP LOCKED
"""
SQL_COMPLETE = "UPDATE runtime.timers SET done_at = now() WHERE id = :id"
# Served by the partial index timers_due (owner, due_at) WHERE done_at IS NULL.
SQL_DUE_BY_OWNER = """
SELECT owner, count(*) AS due, min(due_at) AS oldest_due_at
FROM runtime.timers
WHERE done_at IS NULL AND due_at <= now()
GROUP BY owner
ORDER BY owner
"""


@dataclass(frozen=True)
class DueTimers:
    """One owner's due timers at a moment: how many, and the earliest due time (UTC)."""

    owner: str
    due: int
    oldest_due_at: datetime


def schedule(
    tx: Tx,
    *,
    owner: str,
    run_id: int,
    kind: str,
    delay_s: float,
    payload: dict[str, Any] | None = None,
    keep_existing: bool = False,
) -> None:
    """Set the ``(owner, run_id, kind)`` timer to fire ``delay_s`` seconds from now (DB clock).

    Args:
        keep_existing: leave a timer that already exists (pending or done) untouched — for
            deadlines that must not move when an event repeats (a CI timeout, say).
    """
    sql = SQL_SCHEDULE_IF_ABSENT if keep_existing else SQL_SCHEDULE
    tx.run(
        sql,
        owner=owner,
        run_id=run_id,
        kind=kind,
        delay_s=float(delay_s),
        payload=json.dumps(payload or {}),
    )


def cancel(tx: Tx, *, owner: str, run_id: int, kind: str) -> None:
    """Retire a pending timer (no-op when there is none)."""
    tx.run(SQL_CANCEL, owner=owner, run_id=run_id, kind=kind)


def claim_due(tx: Tx, owner: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The owner's due timers (oldest first, at most ``limit``), locked for this transaction."""
    return tx.all(SQL_CLAIM_DUE, owner=owner, limit=limit)


def complete(tx: Tx, timer_id: int) -> None:
    """Mark a claimed timer handled."""
    tx.run(SQL_COMPLETE, id=timer_id)


def due_by_owner(tx: Tx) -> list[DueTimers]:
    """Every owner with at least one due pending timer, by owner name (one statement, no locks:
    the owners claim their timers themselves)."""
    return [
        DueTimers(owner=str(r["owner"]), due=int(r["due"]), oldest_due_at=r["oldest_due_at"])
        for r in tx.all(SQL_DUE_BY_OWNER)
    ]
