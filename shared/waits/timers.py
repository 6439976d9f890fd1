"""Durable timers: "check again later" is a row with a due time, never a sleep (DESIGN §2, §12.1).

``runtime.timers`` holds one pending timer per ``(owner, run_id, kind)``; the owner is the
function (its Knative Service name: ``ci-status``, ``review-gate``, ``judge``, ``deploy``,
``rerun`` …) that handles it when the scheduler wakes it with ``timers.due`` (the scheduler
reads this table on each PingSource tick). A restart loses nothing: the rows are the state.

* :func:`schedule` sets (or moves) a timer; :func:`cancel` retires it, :func:`cancel_run` all
  of one owner's timers for a run;
* :func:`claim_due` returns the due timers of one owner, locked ``FOR UPDATE SKIP LOCKED`` so
  two concurrent ticks never handle the same timer, each after its run row (the lock order of
  :mod:`shared.runs.locks`); the caller handles each and calls
  :func:`complete` (or :func:`schedule` again to retry later) in the same transaction;
* :func:`due_by_owner` counts the due timers of every owner in one statement (the scheduler's
  query: it wakes only the owners that have work, DESIGN §4 "Ticks");
* :func:`record_failure` notes that a timer's handler failed (``attempts``, ``last_error``) and
  moves it back by an exponential backoff, behind every timer due now, so one bad timer never
  holds up the others (issue 10); :func:`schedule` — a handler that succeeded and re-armed
  it — resets ``attempts``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.db import Tx
from shared.runs.locks import claim_due_timers

SQL_SCHEDULE = """
INSERT INTO runtime.timers (owner, run_id, kind, due_at, payload)
VALUES (:owner, :run_id, :kind, now() + make_interval(secs => :delay_s), CAST(:payload AS jsonb))
ON CONFLICT (owner, run_id, kind) DO UPDATE
    SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload, done_at = NULL, attempts = 0
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
SQL_CANCEL_RUN = """
UPDATE runtime.timers SET done_at = now()
WHERE owner = :owner AND run_id = :run_id AND done_at IS NULL
"""
SQL_COMPLETE = "UPDATE runtime.timers SET done_at = now() WHERE id = :id"
# The backoff doubles from :first_s per failure in a row, at most :cap_s, never below :floor_s
# (an upstream's Retry-After); the exponent is capped so power() cannot overflow.
SQL_RECORD_FAILURE = """
UPDATE runtime.timers
SET attempts = attempts + 1, last_error = :error, last_failed_at = now(),
    due_at = now() + make_interval(secs => greatest(
        CAST(:floor_s AS double precision),
        least(CAST(:cap_s AS double precision), :first_s * power(2, least(attempts, 30)))))
WHERE id = :id AND done_at IS NULL
RETURNING attempts, due_at
"""
#: First retry of a failed timer after this many seconds, doubling up to :data:`MAX_BACKOFF_S`.
FIRST_BACKOFF_S = 60.0
MAX_BACKOFF_S = 3600.0
#: ``last_error`` is cut to this many characters (an upstream message can be long).
MAX_ERROR_CHARS = 2000
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


def cancel_run(tx: Tx, *, owner: str, run_id: int) -> None:
    """Retire every pending timer ``owner`` holds for run ``run_id`` (it concluded or ended)."""
    tx.run(SQL_CANCEL_RUN, owner=owner, run_id=run_id)


def claim_due(
    tx: Tx, owner: str, *, limit: int = 50, exclude: frozenset[int] = frozenset()
) -> list[dict[str, Any]]:
    """The owner's due timers (oldest first, at most ``limit``), each locked for this
    transaction after its run (the lock order of :mod:`shared.runs.locks`); ``exclude`` names
    timer ids to leave alone."""
    return claim_due_timers(tx, owner, limit=limit, exclude=exclude)


def complete(tx: Tx, timer_id: int) -> None:
    """Mark a claimed timer handled."""
    tx.run(SQL_COMPLETE, id=timer_id)


def record_failure(
    tx: Tx,
    timer_id: int,
    *,
    error: str,
    floor_s: float = 0.0,
    first_s: float = FIRST_BACKOFF_S,
    cap_s: float = MAX_BACKOFF_S,
) -> int | None:
    """Record a failed attempt at a pending timer and move it back by the backoff.

    The n-th failure in a row (n ≥ 1) makes the timer due ``min(cap_s, first_s * 2**(n-1))``
    seconds from now (1 min, 2 min, 4 min … 1 h by default), or ``floor_s`` when that is later.

    Args:
        error: what failed, stored in ``last_error`` (cut to :data:`MAX_ERROR_CHARS`).
        floor_s: the least delay in seconds (e.g. an upstream's ``Retry-After``).

    Returns:
        The timer's ``attempts`` after this failure, or None when it is no longer pending.
    """
    row = tx.one(
        SQL_RECORD_FAILURE,
        id=timer_id,
        error=error[:MAX_ERROR_CHARS],
        floor_s=float(floor_s),
        first_s=float(first_s),
        cap_s=float(cap_s),
    )
    return None if row is None else int(row["attempts"])


def due_by_owner(tx: Tx) -> list[DueTimers]:
    """Every owner with at least one due pending timer, by owner name (one statement, no locks:
    the owners claim their timers themselves)."""
    return [
        DueTimers(owner=str(r["owner"]), due=int(r["due"]), oldest_due_at=r["oldest_due_at"])
        for r in tx.all(SQL_DUE_BY_OWNER)
    ]
