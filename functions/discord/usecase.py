"""The discord use case: one message per (run, kind) through the effects outbox.

Consumes ``judge.decided``, ``pr.merged``, ``deploy.verified``, ``deploy.failed`` and
``run.escalated``; :mod:`functions.discord.notices` says which kind each is, and the policy's
``discord_kinds`` whether it is posted. The run's links are read from the run store and
``codex_judge.artifacts``; the message goes out through :func:`shared.effects.outbox.perform` with
the key ``discord:<run_id>:<kind>``, so a duplicate delivery, or another event of the same kind,
never posts twice (DESIGN §4, §5).

A worker that dies (or loses Postgres) after claiming a notice never loses it: the claim arms a
recovery timer (owner ``discord``) with the event, and the scheduler's ``timers.due`` handles
it again (:func:`tick`), posting once. A delivery that finds the notice claimed elsewhere is
acknowledged: the timer, not its retries, finishes it; a timer that finds it claimed waits and
tries again (issue 10).

Retries are bounded (issue 5; DESIGN §12.8): a Discord 429 answers 429 with ``Retry-After`` and
a 5xx answers 503, so Knative redelivers; after ``discord_max_attempts`` posts that failed, or
``discord_max_rate_limited`` posts Discord answered 429, the effect is marked ``failed`` and the
notice is dropped with a note instead of being retried forever. A worker that died (killed, or
Postgres lost) is no failed post: counting it once let two crashes and one 429 drop a notice the
soak expected; nor is a 429, Discord's "come back after ``Retry-After``": counted as a failure,
three quick 429s dropped one (issue 10).
Outcomes are values: no Discord configured, an unknown run or a kind the policy does not post
answer :class:`NoReply` with a note.
"""

from __future__ import annotations

import hashlib
from typing import Any

from functions.discord import notices
from functions.discord.message import RunLinks, build_message
from shared.db import Tx
from shared.effects import outbox, recovery
from shared.errors import ConflictError
from shared.models.events import (
    DEPLOY_FAILED,
    DEPLOY_VERIFIED,
    JUDGE_DECIDED,
    PR_MERGED,
    RUN_ESCALATED,
    DeployFailed,
    DeployVerified,
    JudgeDecided,
    PrMerged,
    RunEscalated,
)
from shared.policy.resolution import effective_policy
from shared.runs import get_run
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome
from shared.waits import timers

OWNER = "discord"

SQL_ARTIFACTS = """
SELECT name, url, bucket, key, endpoint
  FROM codex_judge.artifacts WHERE run_id = :run_id ORDER BY name
"""
SQL_EFFECT = """
SELECT state, failures, rate_limited FROM runtime.effects WHERE idempotency_key = :key
"""
SQL_GIVE_UP = """
UPDATE runtime.effects SET state = 'failed', completed_at = now(),
       error = coalesce(error, '') || ' (gave up after ' || failures || ' failed posts and '
               || rate_limited || ' rate-limited posts)'
 WHERE idempotency_key = :key AND state = 'claimed' AND claimed_at = '-infinity'
"""


def _artifact_url(row: dict[str, Any]) -> str | None:
    if row.get("url"):
        return str(row["url"])
    if row.get("bucket") and row.get("key"):
        return f"s3://{row['bucket']}/{row['key']}"
    return None


def load_links(tx: Tx, run_id: int) -> RunLinks | None:
    """The run's links, or None when no run has ``run_id``."""
    run = get_run(tx, run_id)
    if run is None:
        return None
    artifacts = []
    for row in tx.all(SQL_ARTIFACTS, run_id=run_id):
        url = _artifact_url(row)
        if url:
            artifacts.append((str(row["name"]), url))
    return RunLinks(
        repository=run.repository,
        issue_number=run.issue_number,
        issue_url=run.issue_url,
        pr_number=run.pr_number,
        pr_url=run.pr_url,
        head_sha=run.head_sha,
        workflow_url=run.workflow_url,
        attempt=run.attempt,
        ci_summary=run.ci_summary,
        artifacts=artifacts,
    )


def _notice(event: Envelope, ctx: Context) -> tuple[int, str, Any] | str:
    """``(run_id, kind, render)`` for ``event``, or a note why nothing is posted."""
    if event.type == JUDGE_DECIDED:
        decided = event.model(JudgeDecided)
        kind = notices.decision_kind(decided)
        if kind is None:
            return "a pass is announced once merged and verified"
        return decided.run_id, kind, lambda links: build_message(decided, links)
    if event.type == PR_MERGED:
        merged = event.model(PrMerged)
        policy, _ = effective_policy(ctx.tx, ctx.deps.settings, merged.repository)
        if merged.dry_run or policy.deploy_mode != "none":
            return "merged, not yet verified (or a dry run); nothing posted"
        detail = f"Merged ({merged.merge_method}); no deploy configured."
        sha = merged.merge_commit_sha
        return (
            merged.run_id,
            "success",
            lambda links: notices.build_notice(
                "success", merged.run_id, links, detail=detail, commit_sha=sha
            ),
        )
    if event.type == DEPLOY_VERIFIED:
        verified = event.model(DeployVerified)
        detail = f"Deployed ({verified.mode}) at {verified.revision[:12]} and verified."
        return (
            verified.run_id,
            "success",
            lambda links: notices.build_notice(
                "success",
                verified.run_id,
                links,
                detail=detail,
                commit_sha=verified.merge_commit_sha,
            ),
        )
    if event.type == DEPLOY_FAILED:
        failed = event.model(DeployFailed)
        lines = [f"{failed.reason}: {failed.message}"]
        if failed.remedy and failed.remedy.url:
            lines.insert(0, f"Remedy ({failed.remedy.kind}): <{failed.remedy.url}>")
        lines += [f"- {name}" for name in failed.failing_tests]
        return (
            failed.run_id,
            "deploy_failed",
            lambda links: notices.build_notice(
                "deploy_failed",
                failed.run_id,
                links,
                detail="\n".join(lines),
                commit_sha=failed.merge_commit_sha,
            ),
        )
    if event.type == RUN_ESCALATED:
        escalated = event.model(RunEscalated)
        kind = notices.escalation_kind(escalated.reason)
        detail = f"{escalated.reason}: {escalated.message}"
        return (
            escalated.run_id,
            kind,
            lambda links: notices.build_notice(kind, escalated.run_id, links, detail=detail),
        )
    return f"ignored event type {event.type}"


def post_decision(event: Envelope, ctx: Context) -> Outcome:
    """Post the notice for ``event`` to Discord once per (run, kind) (a delivery).

    A delivery that finds the notice claimed by another worker is acknowledged: the claim's
    recovery timer, not the delivery's retries, finishes it (a 409 here once outlived the
    Trigger's retry window and was lost).

    Raises:
        InvalidDataError: ``data`` does not match the event type's model (names the field).
        RateLimitedError: Discord answered 429 (the redelivery posts).
        UpstreamError: Discord answered 5xx or did not answer (the redelivery posts).
    """
    try:
        return _post(event, ctx)
    except ConflictError:
        return NoReply("being posted by another worker; its recovery timer finishes it")


def _post(event: Envelope, ctx: Context) -> Outcome:
    """Post the notice for ``event`` once per (run, kind); :func:`post_decision` and the
    recovery timers' :func:`tick` share it.

    Raises:
        ConflictError: another worker holds a fresh claim on the notice. The recovery timer
            then waits and tries again (:func:`shared.effects.recovery.handle_again`): were it
            completed here, a claim whose worker died after the timer was armed (a takeover of
            a released claim) would be owned by nothing, and the notice lost (issue 10).
        InvalidDataError, RateLimitedError, UpstreamError: see :func:`post_decision`.
    """
    found = _notice(event, ctx)
    if isinstance(found, str):
        return NoReply(found)
    run_id, kind, render = found
    discord = ctx.deps.discord()
    if discord is None:
        return NoReply("discord is not configured; nothing posted", run_id=run_id)
    links = load_links(ctx.tx, run_id)
    if links is None:
        return NoReply(f"run {run_id} not found; nothing posted")
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, links.repository)
    if kind not in policy.discord_kinds:
        return NoReply(f"{kind} notices are not posted for this repository", run_id=run_id)
    key = f"discord:{run_id}:{kind}"
    with ctx.deps.db.transaction() as tx:  # committed at once, so the bound holds under retries
        if _exhausted(tx, key, ctx):
            tx.run(SQL_GIVE_UP, key=key)
    content = render(links)

    def call() -> dict[str, Any]:
        message = discord.post(content, nonce=hashlib.sha256(key.encode()).hexdigest()[:25])
        return {"id": message.id, "channel_id": message.channel_id}

    owner = outbox.Recovery(owner=OWNER, run_id=run_id, event_type=event.type, data=event.json())
    result = outbox.perform(
        ctx.deps.db,
        key=key,
        kind="discord",
        run_id=run_id,
        request={"content": content, "event_id": event.id, "kind": kind},
        call=call,
        recovery=owner,
    )
    outbox.settle(ctx.tx, key, owner)
    note = "posted" if result.performed_now else f"already {result.state}; not posted again"
    return NoReply(note, run_id=run_id)


def tick(event: Envelope, ctx: Context) -> Outcome:
    """The scheduler's ``timers.due`` (``timerowner = discord``): each notice whose worker died
    before its record is handled again from its recorded event (:mod:`shared.effects.recovery`)."""
    handled = 0
    for timer in recovery.distinct_events(timers.claim_due(ctx.tx, OWNER)):
        handled += recovery.handle_again(ctx, timer, _post) is not None
    return NoReply(f"tick: {handled} notice(s) handled again")


def _exhausted(tx: Tx, key: str, ctx: Context) -> bool:
    row = tx.one(SQL_EFFECT, key=key)
    if row is None or row["state"] != "claimed":
        return False
    settings = ctx.deps.settings
    return (
        int(row["failures"]) >= settings.discord_max_attempts
        or int(row["rate_limited"]) >= settings.discord_max_rate_limited
    )
