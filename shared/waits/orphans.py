"""Orphaned waits: runs that wait on a gate holding no pending timer for them (issue 3
"Durable waits and reconcile"; issue 8 "Idle costs nothing").

A run's ``run.completed`` may be lost, or the run may have begun waiting before its gate kept
timers: nothing would ever wake the gate for it. Two readers share these queries so that they
cannot disagree about what an orphan is:

* the gate's tick **adopts** them (:func:`shared.waits.reconcile.adopt_orphans`: a deadline counted
  from the run's last change, an immediate reconcile) — :mod:`functions.ci_status.tick`,
  :mod:`functions.review_gate.tick`;
* the scheduler (:mod:`functions.scheduler.usecase`) **wakes** a gate that has at least one,
  with ``adopt`` set in its ``timers.due``; once adopted, the run holds timers and the due-timer
  count wakes the gate from then on.

Each query takes ``:owner`` (the gate's Knative Service name) and ``:limit`` and returns
``id``, ``repository`` and ``waited_s`` (seconds since the run last changed).
"""

from __future__ import annotations

from shared.db import Tx

CI_STATUS = "ci-status"
REVIEW_GATE = "review-gate"

# Runs waiting for a CI verdict without any pending ci-status timer.
SQL_CI_ORPHANS = """
SELECT r.id, r.repository,
       EXTRACT(EPOCH FROM (now() - r.updated_at))::float8 AS waited_s
FROM codex_judge.runs r
WHERE r.active AND r.status = 'waiting_for_ci' AND r.ci_verdict IS NULL
  AND r.repository IS NOT NULL AND r.head_sha IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM runtime.timers t
      WHERE t.owner = :owner AND t.run_id = r.id AND t.done_at IS NULL)
ORDER BY r.id
LIMIT :limit
"""
# Runs waiting for a review verdict without any pending review-gate timer.
SQL_REVIEW_ORPHANS = """
SELECT r.id, r.repository,
       EXTRACT(EPOCH FROM (now() - r.updated_at))::float8 AS waited_s
FROM codex_judge.runs r
WHERE r.active AND r.review_verdict IS NULL
  AND r.status IN ('run_complete', 'waiting_for_ci', 'waiting_for_review')
  AND r.repository IS NOT NULL AND r.pr_number IS NOT NULL AND r.head_sha IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM runtime.timers t
      WHERE t.owner = :owner AND t.run_id = r.id AND t.done_at IS NULL)
ORDER BY r.id
LIMIT :limit
"""

#: The owners that adopt orphaned waits, and the query that lists each one's orphans.
ORPHAN_QUERIES: dict[str, str] = {CI_STATUS: SQL_CI_ORPHANS, REVIEW_GATE: SQL_REVIEW_ORPHANS}


def owners_with_orphans(tx: Tx) -> list[str]:
    """The owners (sorted) with at least one orphaned wait: one ``LIMIT 1`` probe per owner."""
    return sorted(
        owner for owner, sql in ORPHAN_QUERIES.items() if tx.all(sql, owner=owner, limit=1)
    )
