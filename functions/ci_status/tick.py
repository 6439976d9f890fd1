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

from functions.ci_status import usecase
from shared.gates.ci import ci_verdict
from shared.github.checks import checks_for_sha
from shared.policy.model import Policy
from shared.policy.resolution import effective_policy
from shared.runs import Run, conclude_ci, lock
from shared.runtime.outcomes import Context, Reply
from shared.waits.gate import GateWait
from shared.waits.orphans import CI_STATUS
from shared.waits.reconcile import Step, settle

CI_TIMEOUT = usecase.CI_TIMEOUT


def on_deadline(ctx: Context, run_id: int) -> Step:
    """The ``ci_timeout`` of run ``run_id``: one last look at GitHub, then ``failure``."""
    last_look = usecase.decide_run(ctx, run_id)  # GitHub may have the verdict by now
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


GATE = GateWait(
    owner=CI_STATUS,
    deadline_kind=CI_TIMEOUT,
    timeout_of=lambda p: p.ci_timeout_s,
    decide_run=usecase.decide_run,
    on_deadline=on_deadline,
)
handle = GATE.handle


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
    return usecase.reply(run, "failure", summary)
