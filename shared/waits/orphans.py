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

Each finder takes the gate's Knative Service name as ``owner`` and a ``limit`` and returns
the runs with the seconds since each last changed; the queries are the run store's
(:func:`shared.runs.store.waiting_for_ci_without_timer`,
:func:`shared.runs.store.waiting_for_review_without_timer`).
"""

from __future__ import annotations

from typing import Protocol

from shared.db import Tx
from shared.runs.model import Run
from shared.runs.store import waiting_for_ci_without_timer, waiting_for_review_without_timer

CI_STATUS = "ci-status"
REVIEW_GATE = "review-gate"


class OrphanFinder(Protocol):
    """Finds a gate's orphaned waits: ``[(run, seconds waited)]``, by run id."""

    def __call__(self, tx: Tx, *, owner: str, limit: int) -> list[tuple[Run, float]]: ...


#: The owners that adopt orphaned waits, and how each one's orphans are found.
ORPHAN_FINDERS: dict[str, OrphanFinder] = {
    CI_STATUS: waiting_for_ci_without_timer,
    REVIEW_GATE: waiting_for_review_without_timer,
}


def owners_with_orphans(tx: Tx) -> list[str]:
    """The owners (sorted) with at least one orphaned wait: one ``LIMIT 1`` probe per owner."""
    return sorted(owner for owner, find in ORPHAN_FINDERS.items() if find(tx, owner=owner, limit=1))
