"""How a deploy ends: verified, or failed with a revert PR (or an Argo CD rollback).

On failure (issue 5 "deploy"): the merge commit is reverted through GitHub's GraphQL
``revertPullRequest`` mutation, sent by :func:`shared.effects.writes.github_write` under the key
``revert:<repo>#<pr>@<merge sha>`` (dry run, allow-list, effects outbox, audit), or — when
``policy.on_deploy_failure == "rollback"`` — the Argo CD Application is rolled back to the
newest history entry that is not the merge commit, through :func:`shared.effects.outbox.perform`
under ``rollback:<application>@<merge sha>``. Either happens at most once however often the failure
is seen. The run goes ``needs_iteration`` with reason ``post_deploy_failed``, and the next
prompt names the failing tests.

Replies are recomputed from the row, so a duplicate or late event gets the same reply (same
key → same CloudEvent id) as the first.
"""

from __future__ import annotations

from typing import Any

from functions.deploy import store
from shared import runs
from shared.effects import outbox
from shared.effects.writes import github_write
from shared.models.events import (
    DEPLOY_FAILED,
    DEPLOY_VERIFIED,
    DeployFailed,
    DeployRemedy,
    DeployVerified,
)
from shared.policy.model import Policy
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits import timers

OWNER = "deploy"
POST_DEPLOY_FAILED = "post_deploy_failed"
DEPLOY_VERIFIED_REASON = "deploy_verified"


#: The ``deploy.*`` event fields that name the deploy, read from its row alike for each outcome.
_DEPLOY_FIELDS = ("run_id", "repository", "pr_number", "merge_commit_sha", "mode")


def reply_for(row: dict[str, Any]) -> Outcome:
    """The reply a concluded deploy answers with (same key every time); NoReply while open."""
    deploy = {name: row[name] for name in _DEPLOY_FIELDS}
    data: DeployVerified | DeployFailed
    if row["state"] == "verified":
        event_type, key = DEPLOY_VERIFIED, "deploy.verified"
        data = DeployVerified(
            **deploy,
            revision=row["revision"] or row["merge_commit_sha"],
            verify_workflow=row["verify_workflow"],
        )
    elif row["state"] == "failed":
        remedy = row["remedy"]
        event_type, key = DEPLOY_FAILED, "deploy.failed"
        data = DeployFailed(
            **deploy,
            reason=row["failure_reason"],
            message=_first_line(row["next_prompt"]),
            failing_tests=list(row["failing_tests"] or []),
            next_prompt=row["next_prompt"],
            remedy=DeployRemedy.model_validate(remedy) if remedy else None,
        )
    else:
        return NoReply(f"deploy of run {row['run_id']} is {row['state']}", run_id=row["run_id"])
    return Reply(
        type=event_type,
        data=data,
        key=f"{key}:{row['run_id']}",
        subject=str(row["run_id"]),
        run_id=row["run_id"],
    )


def _first_line(text: str | None) -> str:
    return (text or "").split("\n", 1)[0]


def _end_run(ctx: Context, run_id: int, to_status: runs.RunStatus, reason: str) -> None:
    """The run leaves ``deploying``/``verifying`` for ``to_status`` with ``reason``, and the
    deploy's ``poll`` and ``deadline`` timers stop."""
    runs.transition(
        ctx.tx,
        run_id,
        from_statuses=["deploying", "verifying"],
        to_status=to_status,
        reason=reason,
    )
    for kind in ("poll", "deadline"):
        timers.cancel(ctx.tx, owner=OWNER, run_id=run_id, kind=kind)


def verified(ctx: Context, row: dict[str, Any]) -> Outcome:
    """verifying → verified; the run verifying → completed (reason ``deploy_verified``)."""
    done = store.mark_verified(ctx.tx, row["run_id"])
    if done is None:
        return reply_for(row)
    _end_run(ctx, row["run_id"], "completed", DEPLOY_VERIFIED_REASON)
    ctx.log.info("deploy verified", extra={"run_id": row["run_id"]})
    return reply_for(done)


def next_prompt(row: dict[str, Any], reason: str, message: str, failing: list[str]) -> str:
    """The next attempt's prompt: what failed after the deploy, and which tests."""
    lines = [
        f"Post-deploy failure ({reason}) of PR #{row['pr_number']} in {row['repository']} "
        f"(merge commit {row['merge_commit_sha']}): {message}",
        "",
        "The merge was taken back out of production. Fix the cause so the deployed change "
        "passes post-deploy verification.",
    ]
    if failing:
        lines += ["", "Failing tests:", *(f"- {name}" for name in failing)]
    return "\n".join(lines)


def failed(
    ctx: Context,
    row: dict[str, Any],
    policy: Policy,
    *,
    reason: str,
    message: str,
    failing_tests: list[str] | None = None,
) -> Outcome:
    """Conclude a failed deploy: revert (or roll back) once, run → needs_iteration.

    Raises:
        TransientError: GitHub or Argo CD failed transiently (the remedy is retried; the
            effects outbox makes sure it is sent once).
    """
    if row["state"] not in ("deploying", "verifying"):
        return reply_for(row)
    failing = list(failing_tests or [])
    remedy = (
        _rollback(ctx, row)
        if policy.on_deploy_failure == "rollback" and row["mode"] == "argocd"
        else _revert(ctx, row, policy, reason)
    )
    prompt = next_prompt(row, reason, message, failing)
    done = store.mark_failed(
        ctx.tx,
        row["run_id"],
        reason=reason,
        failing_tests=failing,
        next_prompt=prompt,
        remedy=remedy.model_dump(mode="json"),
    )
    assert done is not None  # the row is locked and was open
    _end_run(ctx, row["run_id"], "needs_iteration", POST_DEPLOY_FAILED)
    ctx.log.warning(
        "deploy failed",
        extra={"run_id": row["run_id"], "reason": reason, "remedy": remedy.kind},
    )
    return reply_for(done)


def _revert(ctx: Context, row: dict[str, Any], policy: Policy, reason: str) -> DeployRemedy:
    """Open the revert PR of the merged PR (GraphQL ``revertPullRequest``), at most once."""
    repo, number, sha = row["repository"], row["pr_number"], row["merge_commit_sha"]
    pull = ctx.deps.github().get_pull(repo, number)
    if pull is None or not pull.node_id:
        return DeployRemedy(kind="revert_pr", outcome="pull_not_found")
    node_id = pull.node_id
    title = f"Revert #{number}: post-deploy {reason.replace('_', ' ')}"
    body = (
        f"codex-judge reverts {sha}: the deploy of #{number} failed ({reason}). "
        f"Run {row['run_id']}."
    )
    result = github_write(
        ctx.tx,
        ctx.deps,
        key=f"revert:{repo}#{number}@{sha}",
        action="revert_pull",
        repository=repo,
        run_id=row["run_id"],
        request={"pull_number": number, "merge_commit_sha": sha, "title": title},
        dry_run=policy.dry_run,
        call=lambda writer: writer.revert_pull(node_id, title=title, body=body),
    )
    created: dict[str, Any] = {}
    if result.answer is not None and result.answer.ok:
        data = result.answer.body.get("data") or {}
        created = ((data.get("revertPullRequest") or {}).get("revertPullRequest")) or {}
    return DeployRemedy(
        kind="revert_pr",
        outcome=result.outcome,
        url=created.get("url"),
        number=created.get("number"),
    )


def _rollback(ctx: Context, row: dict[str, Any]) -> DeployRemedy:
    """Roll the Application back to the newest history entry before the merge commit."""
    application, sha = row["application"], row["merge_commit_sha"]
    argocd = ctx.deps.argocd()
    state = argocd.get_application(application)
    previous = [h for h in state.history if h.revision and h.revision != sha]
    if not previous:
        return DeployRemedy(kind="rollback", outcome="no_previous_revision")
    target = max(previous, key=lambda h: h.id)
    result = outbox.perform(
        ctx.deps.db,
        key=f"rollback:{application}@{sha}",
        kind="argocd.rollback",
        run_id=row["run_id"],
        request={"application": application, "id": target.id, "revision": target.revision},
        call=lambda: argocd.rollback(application, target.id).model_dump(mode="json"),
    )
    return DeployRemedy(
        kind="rollback",
        outcome="success" if result.state == "done" else "failed",
        revision=target.revision,
    )
