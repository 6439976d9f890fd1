"""deploy's use case: ``pr.merged`` starts a deploy, ``verification.completed`` and ticks end it.

* ``io.codexjudge.pr.merged.v1`` — a live merge (not ``dry_run``) of a repository whose policy
  deploys (``deploy_mode`` ``argocd`` or ``argo_workflow``) gets one ``codex_judge.deploys``
  row and a rollout (:mod:`functions.deploy.rollout`). A policy that deploys without what the
  mode needs (Application, deploy template, verification template) is an operator error: the
  run goes ``needs_human`` (``deploy_not_configured``) and ``run.escalated`` is replied, since
  a deploy that cannot be verified must not be called verified (DESIGN §12.7).
* ``io.codexjudge.verification.completed.v1`` — the verification workflow of a run finished
  (forwarded by run-complete): verified, or failed → revert/rollback.
* ``io.codexjudge.timers.due.v1`` (``timerowner=deploy``: the scheduler's wake-up, a *tick*)
  — due ``deploy`` timers: ``poll`` (rollout progress, or a lost verification completion),
  ``deadline`` (``policy.deploy_timeout_s`` → ``deploy_timeout``), and the recovery timers
  (``effect:<key>``, :mod:`shared.effects.recovery`) of a rollout whose worker died between the
  Argo CD sync or Argo submission and the deploy row: its ``pr.merged`` is handled again, and the
  idempotent call (the recorded effect, or a deterministic workflow name) is not repeated. A
  tick may conclude several deploys; each conclusion is published to ``K_SINK`` with the same
  CloudEvent id a reply would have, and the tick answers 202. A timer whose handling fails for
  good (an upstream's 4xx, a bug on its data) is recorded on the timer and backed off, and
  after the last failure allowed its run is escalated (``timer_failed``,
  :func:`shared.waits.failures.fail_timer`); the others are handled all the same.

Replies: ``io.codexjudge.deploy.verified.v1`` / ``io.codexjudge.deploy.failed.v1``.
"""

from __future__ import annotations

from typing import Any

from functions.deploy import conclude, rollout, store
from shared import runs
from shared.effects import outbox, recovery
from shared.errors import TransientError
from shared.models.events import (
    PR_MERGED,
    PrMerged,
    VerificationCompleted,
)
from shared.policy.model import Policy
from shared.policy.resolution import effective_policy
from shared.runtime.envelope import Envelope
from shared.runtime.inbox import reply_event
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits import failures, timers
from shared.waits.escalation import escalated_reply

DEPLOY_NOT_CONFIGURED = "deploy_not_configured"


def on_merged(event: Envelope, ctx: Context) -> Outcome:
    """``pr.merged``: start the deploy (:func:`merged`).

    Raises:
        InvalidDataError: ``data`` is not a valid :class:`PrMerged` (names the field).
    """
    return merged(event.model(PrMerged), ctx)


def on_verification(event: Envelope, ctx: Context) -> Outcome:
    """``verification.completed``: conclude the deploy (:func:`verification`).

    Raises:
        InvalidDataError: ``data`` is not a valid :class:`VerificationCompleted`.
    """
    return verification(event.model(VerificationCompleted), ctx)


def on_tick(event: Envelope, ctx: Context) -> Outcome:
    """``timers.due`` (``timerowner = deploy``): every due deploy timer (:func:`tick`)."""
    return tick(ctx)


def _missing_configuration(policy: Policy) -> list[str]:
    needed = {
        "argocd": ["argocd_application", "verify_workflow_template"],
        "argo_workflow": ["deploy_workflow_template", "verify_workflow_template"],
    }[policy.deploy_mode]
    return [name for name in needed if not getattr(policy, name)]


def merged(data: PrMerged, ctx: Context) -> Outcome:
    """Start the deploy of a merged pull request (at most once per run)."""
    if data.dry_run or not data.merge_commit_sha:
        return NoReply("dry-run merge: nothing to deploy", run_id=data.run_id)
    run = runs.get_run(ctx.tx, data.run_id)
    if run is None:
        return NoReply(f"run {data.run_id} is unknown", run_id=None)
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, data.repository)
    if policy.deploy_mode == "none":
        return NoReply("policy deploy_mode is none", run_id=data.run_id)
    missing = _missing_configuration(policy)
    if missing:
        message = f"deploy_mode {policy.deploy_mode} needs policy {', '.join(missing)}"
        runs.transition(
            ctx.tx,
            data.run_id,
            from_statuses=["merging", "deploying", "verifying"],
            to_status="needs_human",
            reason=DEPLOY_NOT_CONFIGURED,
        )
        return escalated_reply(run, reason=DEPLOY_NOT_CONFIGURED, message=message)
    row = store.create(
        ctx.tx,
        run_id=data.run_id,
        repository=data.repository,
        pr_number=data.pr_number,
        merge_commit_sha=data.merge_commit_sha,
        mode=policy.deploy_mode,
        application=policy.argocd_application,
        namespace=policy.deploy_namespace,
    )
    if row["state"] != "deploying":
        return conclude.reply_for(row)
    # A duplicate pr.merged starts again harmlessly: the sync/submit is a recorded effect and
    # the deadline keeps its first due time.
    owner = outbox.Recovery(
        owner=rollout.OWNER,
        run_id=data.run_id,
        event_type=PR_MERGED,
        data=data.model_dump(mode="json"),
    )
    return rollout.start(ctx, row, policy, owner)


def verification(data: VerificationCompleted, ctx: Context) -> Outcome:
    """Conclude a deploy from its verification workflow's completion."""
    row = store.lock(ctx.tx, data.run_id)
    if row is None:
        return NoReply(f"no deploy for run {data.run_id}", run_id=data.run_id)
    if row["state"] != "verifying":
        return conclude.reply_for(row)
    if data.workflow_name and row["verify_workflow"] != data.workflow_name:
        return NoReply(
            f"{data.workflow_name} is not the verification of this deploy "
            f"({row['verify_workflow']})",
            run_id=data.run_id,
        )
    if data.revision and data.revision != row["merge_commit_sha"]:
        return NoReply(f"verification of {data.revision}, not the merge commit", run_id=data.run_id)
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, row["repository"])
    return rollout.verification_finished(
        ctx,
        row,
        policy,
        phase=data.phase,
        message=data.message,
        failing=data.failed_steps,
    )


def tick(ctx: Context) -> Outcome:
    """Handle every due ``deploy`` timer; publish each conclusion (202).

    Raises:
        UpstreamError: a conclusion could not be published (no ``K_SINK`` or the Broker failed):
            the tick's transaction rolls back, so its timers stay due (503, retried).
    """
    handled = 0
    due = timers.claim_due(ctx.tx, rollout.OWNER)
    outcomes: list[Outcome | None] = [
        recovery.handle_again(ctx, timer, on_merged) for timer in recovery.distinct_events(due)
    ]
    outcomes += [_timer(ctx, timer) for timer in due if not outbox.is_recovery(timer)]
    for outcome in outcomes:
        handled += outcome is not None
        if isinstance(outcome, Reply):
            event = reply_event(
                ctx.consumer, ctx.deps.settings.event_source, outcome, dict(ctx.extensions_out)
            )
            # Raises without a sink: the transaction rolls back and the timer stays due.
            ctx.deps.broker().publish(event)
    return NoReply(f"{handled} deploy timer(s) handled")


def _timer(ctx: Context, timer: dict[str, Any]) -> Outcome | None:
    """One due timer, in a savepoint: a transient upstream failure re-arms it and moves on;
    any other failure of its own is recorded on it (backed off) and the tick moves on (None),
    or escalates the run after the last failure allowed (:func:`shared.waits.failures.fail_timer`).
    """
    run_id = int(timer["run_id"])
    try:
        with ctx.tx.savepoint(f"timer_{int(timer['id'])}"):
            row = store.lock(ctx.tx, run_id, skip_locked=True)
            if row is None:  # an event holds the deploy right now: the timer stays due
                return NoReply("deploy row busy")
            timers.complete(ctx.tx, int(timer["id"]))
            policy, _ = effective_policy(ctx.tx, ctx.deps.settings, row["repository"])
            if timer["kind"] == "deadline":
                return conclude.failed(
                    ctx,
                    row,
                    policy,
                    reason="deploy_timeout",
                    message=f"not verified within deploy_timeout_s={policy.deploy_timeout_s}",
                )
            return rollout.poll(ctx, row, policy)
    except TransientError as exc:
        ctx.log.warning(
            "deploy timer failed transiently; retrying later",
            extra={"run_id": run_id, "kind": timer["kind"], "error": exc.message},
        )
        timers.schedule(
            ctx.tx,
            owner=rollout.OWNER,
            run_id=run_id,
            kind=str(timer["kind"]),
            delay_s=rollout.POLL_INTERVAL_S,
        )
        return NoReply("transient failure")
    except Exception as exc:
        if failures.stops_the_tick(exc):
            raise
        return failures.fail_timer(ctx, timer, exc)
