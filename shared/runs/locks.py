"""The lock order every transaction follows, and the timer claim that keeps it.

Two transactions that take the same row locks in opposite orders can deadlock; Postgres then
waits ``deadlock_timeout`` (1 s by default) before it aborts one of them (PostgreSQL docs,
"Explicit Locking", §13.3.4: "the best defense against deadlocks is … to be certain that all
applications using a database acquire locks on multiple objects in a consistent order"). Every
transaction of this project takes its row locks in this order:

1. its own ``runtime.inbox`` row (unique per event: only a duplicate delivery waits on it);
2. **the run row** (``codex_judge.runs``, ``FOR NO KEY UPDATE``; several runs by ascending id);
3. **the run's timers** (``runtime.timers``: :func:`shared.waits.timers.schedule`, ``cancel``);
4. **the run's effects** (``runtime.effects`` and the GitHub write actions), then the rest of
   what hangs off the run (evaluations, check projections);
5. caches that lock nothing else (``github.etag_cache``: one upsert, no read-then-write).

The event path already locks the run first (a gate's ``lock_waiting_for_*``, the judge's
``lock``) and writes timers and effects afterwards. A tick used to claim its due timer first
(``FOR UPDATE SKIP LOCKED``) and lock the run in the handler afterwards: timer → run, the
opposite order, so a tick and an event for the same run could each hold what the other waits
for. :data:`SQL_CLAIM_DUE_TIMERS` claims in the documented order in one statement: it locks the
due timers' runs first (``SKIP LOCKED``: a run an event is handling is left to the next tick),
then the timers of the runs it holds, again ``SKIP LOCKED`` (another tick has them).
"""

from __future__ import annotations

from typing import Any

from shared.db import Tx

# The InitPlan ``(SELECT array_agg …)`` runs once, to the end, before the first timer row is
# read, so every run lock is taken before any timer lock. Timers without a run lock no run.
SQL_CLAIM_DUE_TIMERS = """
WITH due AS MATERIALIZED (
    SELECT id, run_id FROM runtime.timers
    WHERE owner = :owner AND done_at IS NULL AND due_at <= now()
      AND NOT (id = ANY(CAST(:exclude AS bigint[])))
    ORDER BY due_at
    LIMIT :limit
), held AS MATERIALIZED (
    SELECT r.id FROM codex_judge.runs r
    WHERE r.id IN (SELECT run_id FROM due)
    ORDER BY r.id
    FOR NO KEY UPDATE OF r SKIP LOCKED
)
SELECT t.id, t.owner, t.run_id, t.kind, t.due_at, t.payload, t.attempts, t.last_error
FROM runtime.timers t
WHERE t.id IN (SELECT id FROM due)
  AND t.done_at IS NULL AND t.due_at <= now()
  AND (t.run_id IS NULL
       OR t.run_id = ANY(CAST((SELECT array_agg(id) FROM held) AS bigint[])))
ORDER BY t.due_at
FOR UPDATE OF t SKIP LOCKED
"""


def claim_due_timers(
    tx: Tx, owner: str, *, limit: int = 50, exclude: frozenset[int] = frozenset()
) -> list[dict[str, Any]]:
    """The due timers of ``owner`` (oldest first, at most ``limit``), each locked with its run.

    Args:
        owner: the timer owner (a function's Service name).
        limit: the most timers claimed.
        exclude: timer ids to leave alone (a tick's already handled ones).

    Returns:
        ``runtime.timers`` rows as dicts (id, owner, run_id, kind, due_at, payload, attempts,
        last_error); a timer whose run or itself is locked elsewhere is left out (still due).
    """
    return tx.all(
        SQL_CLAIM_DUE_TIMERS, owner=owner, limit=limit, exclude=sorted(int(i) for i in exclude)
    )
