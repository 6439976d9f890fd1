"""The rerun use case: plan on ``judge.decided`` needs_iteration, submit on the scheduler's
wake-ups.

* ``io.codexjudge.judge.decided.v1`` (the Trigger filters ``decision = needs_iteration``):
  :func:`functions.rerun.schedule.plan`; a zero backoff submits at once and replies
  ``rerun.submitted``; an escalation replies ``run.escalated``.
* ``io.codexjudge.timers.due.v1`` (``timerowner=rerun``: the scheduler's wake-up, a *tick*):
  every due ``rerun`` timer is submitted (:mod:`functions.rerun.submit`); each resulting event
  is published to ``K_SINK`` with a deterministic id (a repeated publish is deduplicated
  downstream) and the tick answers 202. A timer whose submission fails in a way that is its
  own (a bug on its data) is recorded on the timer and backed off, and after the last failure
  allowed its run is escalated (``timer_failed``, :func:`shared.waits.failures.fail_timer`);
  the others are submitted all the same.
"""

from __future__ import annotations

from typing import Any

from functions.rerun import schedule, submit
from functions.rerun import task as tasks
from shared.db import Tx
from shared.effects import outbox, recovery
from shared.errors import ConflictError
from shared.models.events import (
    JUDGE_DECIDED,
    RERUN_SUBMITTED,
    RUN_ESCALATED,
    JudgeDecided,
    RerunSubmitted,
    RunEscalated,
)
from shared.policy.resolution import effective_policy
from shared.runs import Run, get_run
from shared.runtime.envelope import Envelope
from shared.runtime.inbox import reply_event
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits import failures, timers

CONSUMER = "rerun"
SQL_SUBMISSION = "SELECT * FROM codex_judge.rerun_submissions WHERE run_id = :run_id"
SQL_EVALUATION = """
SELECT reasons, next_prompt FROM codex_judge.evaluations WHERE run_id = :run_id
ORDER BY id DESC LIMIT 1
"""


def _reply(event: RerunSubmitted | RunEscalated) -> Reply:
    if isinstance(event, RerunSubmitted):
        return Reply(RERUN_SUBMITTED, event, key=event.delivery_id, run_id=event.run_id)
    return Reply(RUN_ESCALATED, event, key=f"{event.run_id}:{event.reason}", run_id=event.run_id)


def _plan_for(tx: Tx, run: Run, row: dict[str, Any], max_attempts: int) -> Any:
    evaluation = tx.one(SQL_EVALUATION, run_id=run.id) or {}
    reasons = evaluation.get("reasons")
    if not isinstance(reasons, list):
        reasons = []
    prompt = row.get("next_prompt") or evaluation.get("next_prompt") or ""
    repository = str(row["repository"])
    return tasks.RerunPlan(
        run_id=int(run.id),
        repository=repository,
        issue_number=int(row["issue_number"]),
        attempt=int(row["attempt"]),
        max_attempts=max_attempts,
        delivery_id=str(row["delivery_id"]),
        prompt=str(prompt),
        base=str(run.base_ref or "main"),
        head=str(run.head_ref or ""),
        head_sha=run.head_sha,
        issue_url=str(
            run.issue_url or f"https://github.com/{repository}/issues/{row['issue_number']}"
        ),
        issue_title=str((run.notify_payload or {}).get("issue_title") or ""),
        issue_body=str((run.notify_payload or {}).get("issue_body") or ""),
        failing_checks=tasks.failing_checks(run.ci_summary),
        review_threads=tasks.review_threads(run.review_summary),
        reasons=[r for r in reasons if isinstance(r, dict)],
        pr_number=run.pr_number,
    )


def _submit(
    ctx: Context,
    run: Run,
    row: dict[str, Any],
    recovery: outbox.Recovery | None = None,
) -> submit.SubmitOutcome:
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, run.repository)
    return submit.submit(
        ctx.tx,
        ctx.deps,
        row,
        _plan_for(ctx.tx, run, row, policy.max_attempts),
        policy,
        template=tasks.workflow_template(run.labels, ctx.deps.settings.rerun_workflow_template),
        namespace=str(run.namespace or policy.deploy_namespace),
        recovery=recovery,
    )


def on_decision(event: Envelope, ctx: Context) -> Outcome:
    """Plan (and, without backoff, submit) the rerun of a needs_iteration decision."""
    decided = event.model(JudgeDecided)
    if decided.decision != "needs_iteration":
        return NoReply(f"decision {decided.decision} is not rerun", run_id=decided.run_id)
    run = get_run(ctx.tx, decided.run_id)
    if run is None:
        return NoReply(f"run {decided.run_id} not found; nothing to rerun")
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, run.repository)
    planned = schedule.plan(ctx.tx, run, policy, decided.next_prompt)
    if isinstance(planned, str):
        return NoReply(planned, run_id=run.id)
    if isinstance(planned, RunEscalated):
        return _reply(planned)
    if planned["state"] != "scheduled":
        return NoReply(f"attempt {planned['attempt']} already {planned['state']}", run_id=run.id)
    if schedule.backoff_delay(policy, int(planned["attempt"])) > 0:
        return NoReply(f"attempt {planned['attempt']} scheduled", run_id=run.id)
    # Submitted inline, before this transaction commits the plan and its ``submit`` timer: the
    # claim arms a recovery timer with the decision, handled again on a tick if this worker dies.
    owner = outbox.Recovery(
        owner=submit.OWNER,
        run_id=run.id,
        event_type=JUDGE_DECIDED,
        data=decided.model_dump(mode="json"),
    )
    outcome = _submit(ctx, run, planned, owner)
    if outcome.event is None:  # a transient failure moved the timer; a tick retries
        return NoReply(outcome.note, run_id=run.id)
    timers.cancel(ctx.tx, owner=submit.OWNER, run_id=run.id, kind=submit.TIMER_KIND)
    return _reply(outcome.event)


def _publish(ctx: Context, reply: Reply) -> None:
    out = reply_event(CONSUMER, ctx.deps.settings.event_source, reply, {})
    ctx.deps.broker().publish(out)  # without a sink: 503, the timer stays due


def on_tick(event: Envelope, ctx: Context) -> Outcome:
    """Submit every due rerun, and handle again each decision whose inline submission a dead
    worker left unrecorded (:mod:`shared.effects.recovery`); publish what each one produced."""
    handled, published = 0, 0
    due = timers.claim_due(ctx.tx, submit.OWNER)
    for timer in recovery.distinct_events(due):
        again = recovery.handle_again(ctx, timer, on_decision)
        handled += again is not None
        if isinstance(again, Reply):
            _publish(ctx, again)
            published += 1
    for timer in due:
        if outbox.is_recovery(timer):
            continue
        run = get_run(ctx.tx, timer["run_id"])
        row = ctx.tx.one(SQL_SUBMISSION, run_id=timer["run_id"])
        if run is None or row is None or row["state"] != "scheduled":
            timers.complete(ctx.tx, timer["id"])
            continue
        try:
            with ctx.tx.savepoint(f"submit_{int(timer['id'])}"):
                outcome = _submit(ctx, run, row)
        except ConflictError:
            continue  # another worker is submitting it; the next tick sees the result
        except Exception as exc:
            if failures.stops_the_tick(exc):
                raise
            escalated = failures.fail_timer(ctx, timer, exc)
            handled += 1
            if escalated is not None:
                _publish(ctx, escalated)
                published += 1
            continue
        handled += 1
        if outcome.event is None:
            continue  # submit.submit moved the timer for the retry
        timers.complete(ctx.tx, timer["id"])
        _publish(ctx, _reply(outcome.event))
        published += 1
    return NoReply(f"tick: {handled} submission(s) tried, {published} event(s) published")
