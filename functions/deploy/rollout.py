"""Getting the merge commit into the cluster, and checking that it is what runs.

Modes by ``policy.deploy_mode`` (issue 5 "deploy"):

* ``argocd`` — ``POST /api/v1/applications/{app}/sync`` to the merge commit (effect key
  ``deploy:sync:<repo>#<pr>@<sha>``), then poll the Application on ticks until it is
  ``Synced`` **and** ``Healthy`` **at a revision that contains the merge commit**
  (``status.sync.revision``, checked with GitHub's compare); a sync
  operation that ends ``Failed``/``Error``, or ``Degraded`` health at the merge commit, fails
  the deploy (``sync_failed``);
* ``argo_workflow`` — submit ``policy.deploy_workflow_template`` with the merge SHA as the
  ``revision`` parameter (effect key ``deploy:submit:<repo>#<pr>@<sha>``), then poll the
  workflow: ``Failed``/``Error`` → ``deploy_failed``; ``Succeeded`` with an output parameter
  ``revision`` other than the merge SHA → ``revision_mismatch``.

Once deployed, the verification WorkflowTemplate is submitted with the merge SHA and the label
``codex-judge.io/verifies-run: "<run_id>"`` (effect key ``deploy:verify:<repo>#<pr>@<sha>``);
its completion arrives through run-complete. Health alone never concludes a deploy (DESIGN
§12.7). Waiting is durable: a ``poll`` timer and a ``deadline`` timer
(``policy.deploy_timeout_s``) owned by ``deploy``, woken by the scheduler's
``timers.due`` when one is due.
"""

from __future__ import annotations

from typing import Any

from functions.deploy import conclude, store
from shared import runs
from shared.argo.workflow import FINISHED_PHASES, failed_steps, workflow_name
from shared.effects import outbox
from shared.errors import PermanentError, UpstreamRejectedError
from shared.models.events import DEPLOYS_RUN_LABEL, VERIFIES_RUN_LABEL
from shared.policy.model import Policy
from shared.runtime.outcomes import Context, NoReply, Outcome
from shared.waits import timers

OWNER = conclude.OWNER
#: Seconds between polls of a rollout in progress (Argo CD sync, deploy workflow).
POLL_INTERVAL_S = 15.0


def _key(row: dict[str, Any], what: str) -> str:
    return f"deploy:{what}:{row['repository']}#{row['pr_number']}@{row['merge_commit_sha']}"


def _effect(
    ctx: Context,
    row: dict[str, Any],
    what: str,
    recovery: outbox.Recovery | None = None,
    **kwargs: Any,
) -> dict[str, Any] | str:
    """``effects.perform`` under ``deploy:<what>:…``: the recorded response, or the error text
    when the upstream rejected the request for good (now or on an earlier delivery).

    ``recovery`` (the ``pr.merged`` that started the rollout) owns the effect until ``ctx.tx``
    commits what came of it; it is retired in ``ctx.tx``.
    """
    key = _key(row, what)
    try:
        result = outbox.perform(
            ctx.deps.db, key=key, run_id=row["run_id"], recovery=recovery, **kwargs
        )
    except PermanentError as exc:
        outbox.settle(ctx.tx, key, recovery)
        return exc.message
    outbox.settle(ctx.tx, key, recovery)
    if result.state != "done" or result.response is None:
        return result.error or f"{what} was rejected"
    return result.response


def _submit_workflow(
    ctx: Context,
    row: dict[str, Any],
    what: str,
    template: str,
    *,
    revision: str,
    label: str,
    prefix: str,
    recovery: outbox.Recovery | None = None,
) -> dict[str, Any] | str:
    """Submit ``template`` for the merge commit once (effect ``deploy:<what>:…``), labelled
    ``label=<run id>`` so its completion is recognised; see :func:`_effect` for the result.

    The workflow is named from the effect key (``<prefix>-<run id>-<hash>``), so a worker that
    takes over the claim of one that died after Argo accepted gets 409 and the same workflow.
    """
    argo = ctx.deps.argo()
    return _effect(
        ctx,
        row,
        what,
        recovery,
        kind="argo.submit",
        request={"template": template, "revision": revision},
        call=lambda: argo.submit(
            row["namespace"],
            template,
            parameters=_parameters(row),
            labels={label: str(row["run_id"])},
            annotations={"codex-judge.io/repository": row["repository"]},
            name=workflow_name(f"{prefix}-{row['run_id']}", _key(row, what)),
        ).model_dump(mode="json"),
    )


def schedule_poll(ctx: Context, run_id: int, delay_s: float) -> None:
    """(Re)arm the deploy's poll timer ``delay_s`` seconds from now."""
    timers.schedule(ctx.tx, owner=OWNER, run_id=run_id, kind="poll", delay_s=delay_s)


def start(
    ctx: Context, row: dict[str, Any], policy: Policy, recovery: outbox.Recovery | None = None
) -> Outcome:
    """Trigger the rollout of a new deploy row and arm its timers.

    Args:
        recovery: who finishes the sync or submission if this worker dies before ``ctx.tx``
            commits the deploy row (the ``pr.merged`` handled again on a deploy tick).

    Raises:
        TransientError: Argo CD or Argo failed transiently (retried; sent once). A request
            they reject for good fails the deploy instead (never repeated).
    """
    sha = row["merge_commit_sha"]
    if row["mode"] == "argocd":
        application = row["application"]
        argocd = ctx.deps.argocd()
        synced = _effect(
            ctx,
            row,
            "sync",
            recovery,
            kind="argocd.sync",
            request={"application": application, "revision": sha},
            call=lambda: argocd.sync(application, sha).model_dump(mode="json"),
        )
        if isinstance(synced, str):
            return conclude.failed(
                ctx, row, policy, reason="sync_failed", message=f"Argo CD refused: {synced}"
            )
    else:
        submitted = _submit_workflow(
            ctx,
            row,
            "submit",
            str(policy.deploy_workflow_template),
            revision=sha,
            label=DEPLOYS_RUN_LABEL,
            prefix="deploy",
            recovery=recovery,
        )
        if isinstance(submitted, str):
            return conclude.failed(
                ctx, row, policy, reason="deploy_failed", message=f"Argo refused: {submitted}"
            )
        store.set_deploy_workflow(ctx.tx, row["run_id"], str(submitted["name"]))
    schedule_poll(ctx, row["run_id"], POLL_INTERVAL_S)
    timers.schedule(
        ctx.tx,
        owner=OWNER,
        run_id=row["run_id"],
        kind="deadline",
        delay_s=policy.deploy_timeout_s,
        keep_existing=True,
    )
    return NoReply(f"{row['mode']} rollout of {sha} started", run_id=row["run_id"])


def _parameters(row: dict[str, Any]) -> dict[str, str]:
    return {
        "revision": row["merge_commit_sha"],
        "repository": row["repository"],
        "pr_number": str(row["pr_number"]),
        "run_id": str(row["run_id"]),
    }


def poll(ctx: Context, row: dict[str, Any], policy: Policy) -> Outcome:
    """One look at an open deploy (a ``poll`` timer fired); concludes or re-arms the poll.

    Raises:
        TransientError: Argo CD or Argo failed transiently.
    """
    if row["state"] == "verifying":
        return _poll_verification(ctx, row, policy)
    if row["state"] != "deploying":
        return conclude.reply_for(row)
    if row["mode"] == "argocd":
        app = ctx.deps.argocd().get_application(row["application"])
        at_merge = contains_merge(ctx, row, app.revision)
        if app.operation_phase in ("Failed", "Error") or (
            at_merge and app.health_status == "Degraded"
        ):
            return conclude.failed(
                ctx,
                row,
                policy,
                reason="sync_failed",
                message=f"Argo CD {row['application']}: sync {app.operation_phase}, health "
                f"{app.health_status}. {app.operation_message or ''}".strip(),
            )
        if at_merge and app.sync_status == "Synced" and app.health_status == "Healthy":
            return submit_verification(ctx, row, policy, revision=str(app.revision))
    else:
        workflow = ctx.deps.argo().get_workflow(row["namespace"], row["deploy_workflow"]) or {}
        phase = (workflow.get("status") or {}).get("phase")
        if phase in ("Failed", "Error"):
            return conclude.failed(
                ctx,
                row,
                policy,
                reason="deploy_failed",
                message=f"deploy workflow {row['deploy_workflow']} {phase}: "
                f"{(workflow.get('status') or {}).get('message') or ''}".strip(),
                failing_tests=failed_steps(workflow),
            )
        if phase == "Succeeded":
            reported = _output_revision(workflow)
            if reported is not None and reported != row["merge_commit_sha"]:
                return conclude.failed(
                    ctx,
                    row,
                    policy,
                    reason="revision_mismatch",
                    message=f"deploy workflow {row['deploy_workflow']} deployed {reported}, "
                    f"not the merge commit",
                )
            return submit_verification(ctx, row, policy, revision=row["merge_commit_sha"])
    schedule_poll(ctx, row["run_id"], POLL_INTERVAL_S)
    return NoReply("rollout in progress", run_id=row["run_id"])


def contains_merge(ctx: Context, row: dict[str, Any], revision: str | None) -> bool:
    """Whether ``revision`` is the merge commit or a later commit that contains it.

    A different SHA contains the merge commit when GitHub's compare
    ``{merge}...{revision}`` says ``identical`` or ``ahead`` (``behind_by == 0``: the revision
    lacks none of the merge commit's history). Source: GitHub REST "Compare two commits".
    """
    sha = row["merge_commit_sha"]
    if not revision:
        return False
    if revision == sha:
        return True
    try:
        comparison = ctx.deps.github().compare_commits(row["repository"], sha, revision)
    except UpstreamRejectedError:  # a revision GitHub does not know cannot contain the merge
        return False
    return comparison.behind_by == 0


def _output_revision(workflow: dict[str, Any]) -> str | None:
    """The deploy workflow's ``status.outputs.parameters[revision]``, when it reports one."""
    outputs = (workflow.get("status") or {}).get("outputs") or {}
    for param in outputs.get("parameters") or []:
        if isinstance(param, dict) and param.get("name") == "revision" and param.get("value"):
            return str(param["value"])
    return None


def submit_verification(
    ctx: Context, row: dict[str, Any], policy: Policy, *, revision: str
) -> Outcome:
    """Submit the verification workflow for the deployed merge commit; deploy → verifying.

    Raises:
        TransientError: Argo failed transiently (see :func:`start`).
    """
    submitted = _submit_workflow(
        ctx,
        row,
        "verify",
        str(policy.verify_workflow_template),
        revision=revision,
        label=VERIFIES_RUN_LABEL,
        prefix="verify",
    )
    if isinstance(submitted, str):
        return conclude.failed(
            ctx,
            row,
            policy,
            reason="verification_failed",
            message=f"the verification workflow could not be submitted: {submitted}",
        )
    name = str(submitted["name"])
    store.mark_verifying(ctx.tx, row["run_id"], revision=revision, verify_workflow=name)
    runs.transition(
        ctx.tx, row["run_id"], from_statuses=["deploying"], to_status="verifying", reason=None
    )
    # From here the completion arrives as an event; the poll only covers a lost one.
    schedule_poll(ctx, row["run_id"], policy.reconcile_interval_s)
    ctx.log.info("verification submitted", extra={"run_id": row["run_id"], "workflow": name})
    return NoReply(f"verification {name} submitted", run_id=row["run_id"])


def _poll_verification(ctx: Context, row: dict[str, Any], policy: Policy) -> Outcome:
    """Reconcile: read the verification workflow in case its completion event was lost."""
    workflow = ctx.deps.argo().get_workflow(row["namespace"], row["verify_workflow"]) or {}
    status = workflow.get("status") or {}
    phase = status.get("phase")
    if phase in FINISHED_PHASES:
        return verification_finished(
            ctx,
            row,
            policy,
            phase=str(phase),
            message=status.get("message"),
            failing=failed_steps(workflow),
        )
    schedule_poll(ctx, row["run_id"], policy.reconcile_interval_s)
    return NoReply("verification in progress", run_id=row["run_id"])


def verification_finished(
    ctx: Context,
    row: dict[str, Any],
    policy: Policy,
    *,
    phase: str,
    message: str | None,
    failing: list[str],
) -> Outcome:
    """Conclude the deploy from its verification workflow's final phase."""
    if row["state"] != "verifying":
        return conclude.reply_for(row)
    if phase == "Succeeded":
        return conclude.verified(ctx, row)
    return conclude.failed(
        ctx,
        row,
        policy,
        reason="verification_failed",
        message=f"verification workflow {row['verify_workflow']} {phase}: {message or ''}".strip(),
        failing_tests=failing,
    )
