"""ci-status woken by the scheduler's ``timers.due``: the durable CI waits (issue 3
"Durable waits and reconcile"; driver in :mod:`shared.waits.reconcile`).

Timers owned by ``ci-status``, one of each per run waiting for CI:

* ``reconcile`` — no news for ``policy.reconcile_interval_s``: re-read every check run and the
  combined commit status of the run's head SHA from GitHub and decide (a lost ``check_run``
  webhook delays the run by at most one interval); still waiting → it fires again later;
* ``ci_timeout`` — the deadline, ``policy.ci_timeout_s`` after the wait began: one last re-read,
  then the gate concludes **failure** with reason ``ci_timeout``; ``failing`` names the required
  checks that never concluded (a required check that never registered included), and the run
  moves on to ``waiting_for_review`` as with any CI verdict.

Adoption: a run in ``waiting_for_ci`` without any ci-status timer gets both, the deadline
counted from the run's last change, its reconcile due at once (the scheduler wakes ci-status
when there is one: :mod:`shared.waits.orphans`).

Conclusions are published as ``ci.concluded`` with the id the gate's own reply would have
(``<run_id>:<head SHA>``), so the judge sees one event whichever path concluded the run.
"""

from __future__ import annotations

from typing import Any

from functions.ci_status import verdicts
from shared.gates.ci import ci_verdict
from shared.github.checks import checks_for_sha
from shared.policy.model import Policy
from shared.policy.resolution import effective_policy
from shared.runs import Run, conclude_ci, lock
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits.orphans import CI_STATUS, ORPHAN_FINDERS
from shared.waits.reconcile import (
    RECONCILE,
    Step,
    adopt_orphans,
    run_tick,
    settle,
    tick_outcome,
)

CI_TIMEOUT = verdicts.CI_TIMEOUT


def handle(event: Envelope, ctx: Context) -> Outcome:
    """Handle a wake-up: adopt orphaned waits, then every due ci-status timer."""
    return tick_outcome(run_tick(ctx, on_timer, adopt=adopt))


def adopt(ctx: Context, limit: int = 100) -> int:
    """Give each run waiting for CI without timers its deadline and an immediate reconcile."""
    return adopt_orphans(
        ctx,
        ORPHAN_FINDERS[CI_STATUS],
        deadline_kind=CI_TIMEOUT,
        timeout_of=lambda p: p.ci_timeout_s,
        limit=limit,
    )


def on_timer(ctx: Context, timer: dict[str, Any]) -> Step:
    """Handle one due ``reconcile`` or ``ci_timeout`` timer of a run."""
    run_id = int(timer["run_id"])
    if timer["kind"] == RECONCILE:
        return Step(verdicts.decide_run(ctx, run_id))
    if timer["kind"] != CI_TIMEOUT:
        return Step(NoReply(f"unknown timer kind {timer['kind']}", run_id=run_id))
    last_look = verdicts.decide_run(ctx, run_id)  # GitHub may have the verdict by now
    if isinstance(last_look, Reply):
        return Step(last_look)
    run = lock(ctx.tx, run_id)
    if run is None or not _waiting(run):
        return Step(last_look)
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, run.repository)
    summary = timed_out_summary(ctx, run, policy)
    conclude_ci(ctx.tx, run_id, verdict="failure", summary=summary, only_waiting=True)
    settle(ctx, run_id)
    return Step(timed_out_reply(run, summary))


def _waiting(run: Run) -> bool:
    return run.active and run.status == "waiting_for_ci" and run.ci_verdict is None


def timed_out_summary(ctx: Context, run: Run, policy: Policy) -> dict[str, Any]:
    """The stored ``ci_summary`` of a CI wait that hit ``policy.ci_timeout_s``.

    ``failing`` and ``pending`` both name the required checks that never concluded on the head
    SHA, in policy order of names sorted; ``message`` and ``next_prompt`` say so for the judge.
    """
    result = ci_verdict(checks_for_sha(ctx.tx, *run.commit()), policy)
    missing = list(result.pending) or policy.required_check_names() or ["any check"]
    names = ", ".join(missing)
    summary = dict(result.summary())
    summary.update(
        verdict="failure",
        reason=CI_TIMEOUT,
        failing=missing,
        pending=missing,
        message=f"CI timed out after {policy.ci_timeout_s} s waiting for: {names}",
        next_prompt=(
            f"CI never concluded on the head commit {run.head_sha} within "
            f"{policy.ci_timeout_s} s: these required checks did not report a result: {names}. "
            "Make sure the change does not stop them from running (CI configuration, workflow "
            "triggers, path filters), then push again."
        ),
    )
    return summary


def timed_out_reply(run: Run, summary: dict[str, Any]) -> Reply:
    """The ``ci.concluded`` of a timed-out wait (the gate's own reply, same key)."""
    return verdicts.reply(run, "failure", summary)
