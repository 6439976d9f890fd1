"""A completion of a workflow uid never seen before, recorded in one statement (issue 12).

The common case of run-complete: no run holds the uid yet. One statement chooses the attempt,
marks older active runs of the issue ``superseded``, inserts the whole run (never a bare row
updated afterwards: each non-HOT update of ``codex_judge.runs`` rewrites every index), claims
the completion and stores the artifacts: one round trip where there were five. The rules are
those of :mod:`shared.runs.completion`, which records every other case (the uid exists:
``notified`` by notify, or a repeated Argo event).

Order inside the statement: ``decided`` reads with the statement's snapshot and yields no row
when the uid exists, so nothing is written; ``run`` reads the count of ``superseded``, so the
older run leaves the one-active-run index before the new active run enters it (a unique check
treats a row this transaction updated as gone); the completion claim and the artifacts
reference the inserted run (their foreign keys are checked at the end of the statement).

A concurrent transaction that inserts the same uid after the snapshot makes the insert do
nothing: with no older run touched, the caller records the completion against that run; with
older runs superseded, :class:`~shared.errors.ConflictError` rolls them back (409, redelivered).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from shared.argo.model import Artifact, RunMetadata, WorkflowCompletion
from shared.db import Tx, UniqueViolation
from shared.errors import ConflictError
from shared.runs.model import Run

MISSING_RUN_METADATA = "missing_run_metadata"
SUPERSEDED_BY_NEW_ATTEMPT = "superseded_by_new_attempt"
SUPERSEDED_BY_NEWER_ATTEMPT = "superseded_by_newer_attempt"

_FRESH = "NOT EXISTS (SELECT 1 FROM codex_judge.runs WHERE workflow_uid = :uid)"
# The issue's runs, read once (MATERIALIZED) by an index on (repository, issue_number): with
# ``active`` in the lookups' WHERE the planner could take the partial index runs_pr
# (repository, pr_number) WHERE active, and did whenever its statistics had not seen the
# repository yet (new since the last ANALYZE), then filtered every active run of the
# repository — 384 buffers per event instead of 31 at 10⁵ stored runs (issue 12).
# The attempt: the workflow's own when no other run of the issue holds it, else the highest + 1;
# and whether a newer attempt of the issue is still active. Two texts (the workflow asked for an
# attempt, or not), each keeping its generic plan (tests/functional/db/test_generic_plans.py).
_ISSUE_RUNS = """
issue_runs AS MATERIALIZED (
    SELECT id, attempt, active FROM codex_judge.runs
    WHERE repository = :repository AND issue_number = :issue
)"""
_CHOOSE_WANTED = f"""{_ISSUE_RUNS},
chosen AS (
    SELECT CASE
             WHEN EXISTS (SELECT 1 FROM issue_runs WHERE attempt = CAST(:wanted AS integer))
             THEN (SELECT COALESCE(max(attempt), 0) + 1 FROM issue_runs)
             ELSE CAST(:wanted AS integer)
           END AS attempt
)"""
_CHOOSE_NEXT = f"""{_ISSUE_RUNS},
chosen AS (
    SELECT COALESCE(max(attempt), 0) + 1 AS attempt FROM issue_runs
)"""
_DECIDE = f"""
newer AS (
    SELECT chosen.attempt,
           EXISTS (SELECT 1 FROM issue_runs WHERE active AND attempt > chosen.attempt)
               AS newer_active
    FROM chosen
), decided AS (
    SELECT newer.attempt,
           CASE WHEN newer.attempt = CAST(:wanted AS integer) THEN 'workflow' ELSE 'computed'
           END AS attempt_source,
           CASE WHEN CAST(:missing AS boolean) THEN 'needs_human'
                WHEN newer.newer_active THEN 'superseded' ELSE 'waiting_for_ci' END AS status,
           CASE WHEN CAST(:missing AS boolean) THEN CAST(:missing_reason AS text)
                WHEN newer.newer_active THEN CAST(:newer_reason AS text) END AS reason
    FROM newer
    WHERE {_FRESH}
), superseded AS (
    UPDATE codex_judge.runs AS older
    SET status = 'superseded', reason = :superseded_reason, updated_at = now()
    FROM decided
    WHERE decided.status = 'waiting_for_ci'
      AND older.id IN (SELECT id FROM issue_runs WHERE active) AND older.active
      AND (older.attempt IS NULL OR older.attempt < decided.attempt)
    RETURNING older.id
)"""
# No repository or issue: needs_human with the workflow's attempt, nothing chosen or superseded.
_UNIDENTIFIED = f"""
decided AS (
    SELECT CAST(:wanted AS integer) AS attempt,
           CAST(:attempt_source AS text) AS attempt_source,
           'needs_human' AS status, CAST(:missing_reason AS text) AS reason
    WHERE {_FRESH}
), superseded AS (
    SELECT NULL::bigint AS id WHERE false
)"""
_INSERT = """
run AS (
    INSERT INTO codex_judge.runs (
        workflow_uid, workflow_name, namespace, repository, issue_number, attempt,
        attempt_source, head_sha, head_ref, base_ref, pr_number, pr_url, issue_url,
        workflow_url, phase, finished_at, status, reason, labels, parameters)
    SELECT :uid, :workflow_name, :namespace, :repository, :issue, decided.attempt,
           decided.attempt_source, :head_sha, :head_ref, :base_ref, :pr_number, :pr_url,
           :issue_url, :workflow_url, :phase, CAST(:finished_at_ts AS timestamptz),
           decided.status, decided.reason, CAST(:labels AS jsonb), CAST(:parameters AS jsonb)
    FROM decided
    WHERE (SELECT count(*) FROM superseded) >= 0
    ON CONFLICT (workflow_uid) DO NOTHING
    RETURNING *
), claim AS (
    INSERT INTO codex_judge.run_completions (workflow_uid, phase, finished_at, run_id)
    SELECT :uid, :phase, :finished_at, run.id FROM run
    ON CONFLICT DO NOTHING
), artifacts AS (
    INSERT INTO codex_judge.artifacts (run_id, name, node_id, bucket, key, endpoint, url)
    SELECT run.id, a.name, a.node_id, a.bucket, a.key, a.endpoint, a.url
    FROM run, jsonb_to_recordset(CAST(:artifacts AS jsonb))
         AS a(name text, node_id text, bucket text, key text, endpoint text, url text)
    ON CONFLICT (run_id, name) DO NOTHING
)
SELECT run.*, (SELECT array_agg(id ORDER BY id) FROM superseded) AS superseded_ids
FROM (SELECT 1) AS one LEFT JOIN run ON true
"""
SQL_NEW_RUN_WANTED_ATTEMPT = f"WITH {_CHOOSE_WANTED}, {_DECIDE}, {_INSERT}"
SQL_NEW_RUN_NEXT_ATTEMPT = f"WITH {_CHOOSE_NEXT}, {_DECIDE}, {_INSERT}"
SQL_NEW_RUN_UNIDENTIFIED = f"WITH {_UNIDENTIFIED}, {_INSERT}"


def completion_columns(
    completion: WorkflowCompletion, meta: RunMetadata, workflow_url: str | None
) -> dict[str, Any]:
    """The parameters for the run columns a completion sets, named as both the new-run
    statement and :data:`shared.runs.completion.SQL_APPLY_COMPLETION` name them: the
    repository, the PR's fields from ``meta``, the workflow's URL, phase, labels and
    parameters (JSON text)."""
    return {
        "repository": meta.repository,
        "head_sha": meta.head_sha,
        "head_ref": meta.head_ref,
        "base_ref": meta.base_ref,
        "pr_number": meta.pr_number,
        "pr_url": meta.pr_url,
        "issue_url": meta.issue_url,
        "workflow_url": workflow_url,
        "phase": completion.phase,
        "labels": json.dumps(completion.labels),
        "parameters": json.dumps(completion.parameters),
    }


def artifacts_json(artifacts: Iterable[Artifact]) -> str:
    """The artifacts as the JSON array ``jsonb_to_recordset`` reads (name, node_id, bucket,
    key, endpoint, url per artifact)."""
    return json.dumps(
        [
            {
                "name": a.name,
                "node_id": a.node_id,
                "bucket": a.bucket,
                "key": a.key,
                "endpoint": a.endpoint,
                "url": a.url,
            }
            for a in artifacts
        ]
    )


def record_new_run(
    tx: Tx, completion: WorkflowCompletion, *, workflow_url: str | None, finished_at: str | None
) -> tuple[Run, list[int], list[str]] | None:
    """Record the completion as a new run with its artifacts, when no run holds its uid.

    Args:
        completion: the parsed completion (its metadata is the run's: there is nothing to
            merge into a run that does not exist).
        workflow_url: the Argo UI link, when one is configured.
        finished_at: ``finishedAt`` for the timestamptz column (None when it is not RFC 3339).

    Returns:
        ``(run, ids of the runs it superseded, missing metadata)``, or None when a run holds
        the uid (nothing was written).

    Raises:
        ConflictError: a concurrent completion took the chosen attempt or the issue's active
            run, or inserted the same uid after older runs were superseded; retry.
    """
    meta = completion.metadata
    missing = meta.missing_required()
    params: dict[str, Any] = {
        **completion_columns(completion, meta, workflow_url),
        "uid": completion.uid,
        "workflow_name": completion.name or None,
        "namespace": completion.namespace or None,
        "issue": meta.issue_number,
        "wanted": meta.attempt,
        "finished_at": completion.finished_at,
        "finished_at_ts": finished_at,
        "artifacts": artifacts_json(completion.artifacts),
        "missing_reason": MISSING_RUN_METADATA,
    }
    if meta.repository is None or meta.issue_number is None:
        sql = SQL_NEW_RUN_UNIDENTIFIED
        params["attempt_source"] = "workflow" if meta.attempt else None
    else:
        sql = SQL_NEW_RUN_NEXT_ATTEMPT if meta.attempt is None else SQL_NEW_RUN_WANTED_ATTEMPT
        params["missing"] = bool(missing)
        params["newer_reason"] = SUPERSEDED_BY_NEWER_ATTEMPT
        params["superseded_reason"] = SUPERSEDED_BY_NEW_ATTEMPT
    try:
        row = tx.one(sql, **params)
    except UniqueViolation as exc:
        raise ConflictError(
            f"a concurrent completion of {meta.repository}#{meta.issue_number} took attempt"
            " or the active run first; retry"
        ) from exc
    assert row is not None  # one row: the left join keeps it
    superseded = [int(i) for i in row.pop("superseded_ids") or []]
    if row["id"] is None:
        if superseded:
            raise ConflictError(f"workflow {completion.uid} was recorded concurrently; retry")
        return None
    return Run.from_row(row), superseded, missing
