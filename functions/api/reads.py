"""What the api reads: named SQL with bound parameters, rows turned into the frozen models of
:mod:`functions.api.models`. Read-only; the tables' writers are elsewhere.

Lists are keyset-paginated on the id, newest first (:mod:`shared.operator.pages`), and every
query is bounded by ``limit`` (at most ``MAX_PAGE``); dead letters are read by
:mod:`shared.operator.dead_letters`, which the command line shares.
"""

from __future__ import annotations

from typing import Any

from functions.api.models import (
    Artifact,
    Effect,
    Evaluation,
    IssueQuery,
    IssueReport,
    IssueStats,
    IssueSummary,
    Links,
    OperatorAction,
    RunDetail,
    RunPage,
    RunQuery,
    RunSummary,
    TimelineEntry,
    Timer,
)
from shared.db import Tx
from shared.operator import audit
from shared.operator.pages import decode_cursor, encode_cursor

SQL_RUNS = """
SELECT id, repository, issue_number, attempt, status, decision, reason, pr_number, pr_url,
       head_sha, workflow_name, created_at, updated_at
FROM codex_judge.runs
WHERE (CAST(:repository AS text) IS NULL OR repository = :repository)
  AND (CAST(:issue AS integer) IS NULL OR issue_number = :issue)
  AND (CAST(:status AS text) IS NULL OR status = :status)
  AND (CAST(:decision AS text) IS NULL OR decision = :decision)
  AND (CAST(:reason AS text) IS NULL OR reason = :reason)
  AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since)
  AND (CAST(:until AS timestamptz) IS NULL OR created_at < :until)
  AND (CAST(:before AS bigint) IS NULL OR id < :before)
ORDER BY id DESC
LIMIT :limit
"""
SQL_RUN = """
SELECT id, repository, issue_number, attempt, status, decision, reason, pr_number, pr_url,
       head_sha, workflow_name, created_at, updated_at, issue_url, workflow_url
FROM codex_judge.runs WHERE id = :id
"""
SQL_EVALUATIONS = """
SELECT id, decision, reasons, next_prompt, judge_kind, model, confidence, policy_hash,
       fingerprint, prompt_tokens, completion_tokens,
       CAST(cost_usd AS double precision) AS cost_usd, seal, created_at
FROM codex_judge.evaluations WHERE run_id = :run_id ORDER BY id
"""
SQL_ARTIFACTS = """
SELECT name, bucket, key, url, endpoint FROM codex_judge.artifacts WHERE run_id = :run_id
ORDER BY name
"""
SQL_EFFECTS = """
SELECT idempotency_key, kind, state, request, response, attempts, error, claimed_at,
       completed_at
FROM runtime.effects WHERE run_id = :run_id ORDER BY claimed_at, idempotency_key
"""
SQL_TIMERS = """
SELECT owner, kind, due_at, done_at, attempts, last_error FROM runtime.timers
WHERE run_id = :run_id ORDER BY due_at, id
"""
SQL_TIMELINE = """
SELECT consumer, event_type, source, event_id, reply->>'type' AS reply_type, received_at
FROM runtime.inbox WHERE run_id = :run_id ORDER BY received_at, consumer
LIMIT 1000
"""
SQL_ISSUES = """
SELECT repository, issue_number, count(*) AS runs, max(COALESCE(attempt, 0)) AS attempts,
       max(id) AS latest_run_id, bool_or(status = 'completed') AS completed,
       max(updated_at) AS last_activity,
       (array_agg(status ORDER BY id DESC))[1] AS latest_status
FROM codex_judge.runs
WHERE repository IS NOT NULL AND issue_number IS NOT NULL
  AND (CAST(:repository AS text) IS NULL OR repository = :repository)
GROUP BY repository, issue_number
ORDER BY max(updated_at) DESC, repository, issue_number
LIMIT :limit
"""
SQL_ISSUE_STATS = """
WITH issues AS (
    SELECT repository, issue_number, max(COALESCE(attempt, 1)) AS attempts,
           bool_or(status = 'completed') AS completed
    FROM codex_judge.runs
    WHERE repository IS NOT NULL AND issue_number IS NOT NULL
      AND (CAST(:repository AS text) IS NULL OR repository = :repository)
    GROUP BY repository, issue_number)
SELECT count(*) AS issues,
       CAST(avg(CASE WHEN completed THEN 1.0 ELSE 0.0 END) AS double precision) AS completion_rate,
       CAST(avg(attempts) AS double precision) AS average_attempts
FROM issues
"""
SQL_FAILURE_REASONS = """
SELECT reason, count(*) AS runs FROM codex_judge.runs
WHERE reason IS NOT NULL AND status IN ('needs_iteration', 'needs_human')
  AND (CAST(:repository AS text) IS NULL OR repository = :repository)
GROUP BY reason ORDER BY count(*) DESC, reason LIMIT 50
"""
SQL_DURATIONS = """
SELECT CAST(avg(EXTRACT(EPOCH FROM ci_concluded_at - created_at)) AS double precision) AS ci_s,
       (SELECT CAST(avg(e.confidence) AS double precision) FROM codex_judge.evaluations e
         WHERE CAST(:repository AS text) IS NULL OR e.repository = :repository) AS confidence
FROM codex_judge.runs
WHERE ci_concluded_at IS NOT NULL
  AND (CAST(:repository AS text) IS NULL OR repository = :repository)
"""


def list_runs(tx: Tx, query: RunQuery) -> RunPage:
    """One page of runs, newest first, matching every filter given."""
    rows = tx.all(
        SQL_RUNS,
        repository=query.repository,
        issue=query.issue,
        status=query.status,
        decision=query.decision,
        reason=query.reason,
        since=query.since,
        until=query.until,
        before=decode_cursor("runs", query.cursor),
        limit=query.limit + 1,
    )
    items = [RunSummary.model_validate(r) for r in rows[: query.limit]]
    more = len(rows) > query.limit
    return RunPage(items=items, next_cursor=encode_cursor("runs", items[-1].id) if more else None)


def run_detail(tx: Tx, run_id: int) -> RunDetail | None:
    """One run with its evaluations, artifacts, effects, timers, timeline and operator actions;
    None when there is no such run."""
    row = tx.one(SQL_RUN, id=run_id)
    if row is None:
        return None
    links = Links(
        issue=row.pop("issue_url"), pull_request=row["pr_url"], workflow=row.pop("workflow_url")
    )
    return RunDetail(
        run=RunSummary.model_validate(row),
        links=links,
        evaluations=[Evaluation.model_validate(r) for r in tx.all(SQL_EVALUATIONS, run_id=run_id)],
        artifacts=[Artifact.model_validate(r) for r in tx.all(SQL_ARTIFACTS, run_id=run_id)],
        effects=[Effect.model_validate(r) for r in tx.all(SQL_EFFECTS, run_id=run_id)],
        timers=[Timer.model_validate(r) for r in tx.all(SQL_TIMERS, run_id=run_id)],
        timeline=[TimelineEntry.model_validate(r) for r in tx.all(SQL_TIMELINE, run_id=run_id)],
        actions=[OperatorAction.model_validate(r) for r in audit.for_run(tx, run_id)],
    )


def issue_report(tx: Tx, query: IssueQuery) -> IssueReport:
    """Per-issue summaries (the ``limit`` most recently active) and stats over all issues."""
    items = [
        IssueSummary.model_validate(r)
        for r in tx.all(SQL_ISSUES, repository=query.repository, limit=query.limit)
    ]
    totals: dict[str, Any] = tx.one(SQL_ISSUE_STATS, repository=query.repository) or {}
    durations: dict[str, Any] = tx.one(SQL_DURATIONS, repository=query.repository) or {}
    reasons = {
        r["reason"]: int(r["runs"])
        for r in tx.all(SQL_FAILURE_REASONS, repository=query.repository)
    }
    stats = IssueStats(
        issues=int(totals.get("issues") or 0),
        completion_rate=totals.get("completion_rate"),
        average_attempts=totals.get("average_attempts"),
        failure_reasons=reasons,
        average_ci_duration_s=durations.get("ci_s"),
        average_confidence=durations.get("confidence"),
    )
    return IssueReport(items=items, stats=stats)
