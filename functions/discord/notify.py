"""The discord use case: post one message per (run, decision) through the effects outbox.

Consumes ``io.codexjudge.judge.decided.v1`` (:class:`JudgeDecided`). The run's links are read
from ``codex_judge.runs`` and ``codex_judge.artifacts``; the message goes out through
:func:`shared.effects.perform` with the key ``discord:<run_id>:<decision>``, so a duplicate
delivery, or another event carrying the same decision, never posts twice (DESIGN §4, §5).
Outcomes are values: no Discord configured, or an unknown run, answer :class:`NoReply` with a
note. A Discord 429 raises :class:`RateLimitedError` (429 + ``Retry-After``).
"""

from __future__ import annotations

from typing import Any

from functions.discord.message import RunLinks, build_message
from shared import effects
from shared.db import Tx
from shared.events import Envelope
from shared.models.events import JUDGE_DECIDED, JudgeDecided
from shared.runtime import Context, NoReply, Outcome

SQL_RUN = """
SELECT repository, issue_number, issue_url, attempt, pr_url, pr_number, head_sha,
       workflow_url, ci_summary
  FROM codex_judge.runs WHERE id = :run_id
"""
SQL_ARTIFACTS = """
SELECT name, url, bucket, key, endpoint
  FROM codex_judge.artifacts WHERE run_id = :run_id ORDER BY name
"""


def _artifact_url(row: dict[str, Any]) -> str | None:
    if row.get("url"):
        return str(row["url"])
    if row.get("bucket") and row.get("key"):
        return f"s3://{row['bucket']}/{row['key']}"
    return None


def load_links(tx: Tx, run_id: int) -> RunLinks | None:
    """The run's links, or None when no run has ``run_id``."""
    run = tx.one(SQL_RUN, run_id=run_id)
    if run is None:
        return None
    artifacts = []
    for row in tx.all(SQL_ARTIFACTS, run_id=run_id):
        url = _artifact_url(row)
        if url:
            artifacts.append((str(row["name"]), url))
    summary = run["ci_summary"] if isinstance(run["ci_summary"], dict) else None
    return RunLinks(
        repository=run["repository"],
        issue_number=run["issue_number"],
        issue_url=run["issue_url"],
        pr_number=run["pr_number"],
        pr_url=run["pr_url"],
        head_sha=run["head_sha"],
        workflow_url=run["workflow_url"],
        attempt=run["attempt"],
        ci_summary=summary,
        artifacts=artifacts,
    )


def post_decision(event: Envelope, ctx: Context) -> Outcome:
    """Post the decision in ``event`` to Discord once per (run, decision).

    Raises:
        InvalidDataError: ``data`` is not a valid :class:`JudgeDecided` (names the field).
        RateLimitedError: Discord answered 429 (the redelivery posts).
        ConflictError: another worker is posting the same message right now.
    """
    if event.type != JUDGE_DECIDED:
        return NoReply(f"ignored event type {event.type}")
    decided: JudgeDecided = event.model(JudgeDecided)
    discord = ctx.deps.discord()
    if discord is None:
        return NoReply("discord is not configured; nothing posted", run_id=decided.run_id)
    links = load_links(ctx.tx, decided.run_id)
    if links is None:
        return NoReply(f"run {decided.run_id} not found; nothing posted")
    content = build_message(decided, links)

    def call() -> dict[str, Any]:
        message = discord.post(content)
        return {"id": message.id, "channel_id": message.channel_id}

    result = effects.perform(
        ctx.deps.db,
        key=f"discord:{decided.run_id}:{decided.decision}",
        kind="discord",
        run_id=decided.run_id,
        request={"content": content, "event_id": event.id},
        call=call,
    )
    note = "posted" if result.performed_now else f"already {result.state}; not posted again"
    return NoReply(note, run_id=decided.run_id)
