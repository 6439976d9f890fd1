"""review-gate woken by the scheduler's ``timers.due``: the durable review waits (issue 3
"Durable waits and reconcile"; driver in :mod:`shared.waits.reconcile`).

Timers owned by ``review-gate``, one of each per waiting run:

* ``reconcile`` — the run had no news for ``policy.reconcile_interval_s``: re-read every review
  and review thread from GitHub and decide, so a lost webhook delays the run by at most one
  interval; still waiting → the timer fires again one interval later;
* ``review_timeout`` — the deadline, ``policy.review_timeout_s`` after the wait began: one last
  re-read, then the gate concludes ``timed_out`` with reason ``review_timeout``, naming what
  never came (the AI reviewers' review at the head SHA, a human approval).

Adoption: a run that waits for a review but holds no review-gate timer (its ``run.completed``
was lost, or it began waiting before this code) gets both, the deadline counted from the run's
last change; its reconcile is due at once (the scheduler wakes review-gate when there is one:
:mod:`shared.waits.orphans`).

Every conclusion is published as ``review.concluded`` (the same id as the reply the gate
would give to an event) and the tick answers 202; a PR GitHub no longer knows is published as
``run.escalated`` (``pull_request_not_found``), and a timer whose handler fails otherwise backs
off behind the others (:func:`shared.waits.reconcile.run_tick`).
"""

from __future__ import annotations

from typing import Any

from functions.review_gate import verdicts
from shared.errors import UpstreamNotFoundError
from shared.gates.review import timed_out_summary
from shared.runs import lock
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome
from shared.waits.escalation import escalate_not_found
from shared.waits.orphans import ORPHAN_FINDERS, REVIEW_GATE
from shared.waits.reconcile import RECONCILE, Step, adopt_orphans, run_tick, tick_outcome

REVIEW_TIMEOUT = verdicts.REVIEW_TIMEOUT


def handle(event: Envelope, ctx: Context) -> Outcome:
    """Handle a wake-up: adopt orphaned waits, then every due review-gate timer."""
    return tick_outcome(run_tick(ctx, on_timer, adopt=adopt))


def adopt(ctx: Context, limit: int = 100) -> int:
    """Give each waiting run without timers its deadline and an immediate reconcile."""
    return adopt_orphans(
        ctx,
        ORPHAN_FINDERS[REVIEW_GATE],
        deadline_kind=REVIEW_TIMEOUT,
        timeout_of=lambda p: p.review_timeout_s,
        limit=limit,
    )


def on_timer(ctx: Context, timer: dict[str, Any]) -> Step:
    """Handle one due ``reconcile`` or ``review_timeout`` timer of a run."""
    run_id = int(timer["run_id"])
    if timer["kind"] == RECONCILE:
        return Step(verdicts.decide_run(ctx, run_id))
    if timer["kind"] != REVIEW_TIMEOUT:
        return Step(NoReply(f"unknown timer kind {timer['kind']}", run_id=run_id))
    run = lock(ctx.tx, run_id)
    if run is None or not verdicts.is_waiting(run):
        # Concluded (the reply is rebuilt and published again: harmless) or moved on.
        return Step(verdicts.decide_run(ctx, run_id))
    try:
        result, policy = verdicts.evaluate(ctx, run)
    except UpstreamNotFoundError as gone:  # the PR is gone: a decision, not a failing timer
        return Step(escalate_not_found(ctx, run, gone))
    if result.final:
        return Step(verdicts.conclude(ctx, run, result.summary()))
    summary = timed_out_summary(result, policy, policy.review_timeout_s)
    return Step(verdicts.conclude(ctx, run, summary))
