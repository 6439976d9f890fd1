"""Recording a finished workflow as a run: completion dedupe, attempts, supersession,
``needs_human`` for missing metadata, artifacts (rules in :mod:`shared.runs`). A workflow uid
no run holds yet is recorded by :mod:`shared.runs.new_run` in one statement; this module
records the rest (a run notify created, a repeated or later completion of a run)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.argo.metadata import positive_int, repository_name
from shared.argo.model import Artifact, RunMetadata, WorkflowCompletion, as_text
from shared.db import Tx, UniqueViolation
from shared.errors import ConflictError
from shared.runs.model import Run
from shared.runs.new_run import (
    MISSING_RUN_METADATA,
    SUPERSEDED_BY_NEW_ATTEMPT,
    SUPERSEDED_BY_NEWER_ATTEMPT,
    artifacts_json,
    completion_columns,
    record_new_run,
)

__all__ = [
    "MISSING_RUN_METADATA",
    "SUPERSEDED_BY_NEWER_ATTEMPT",
    "SUPERSEDED_BY_NEW_ATTEMPT",
    "CompletionResult",
    "merged_metadata",
    "record_artifacts",
    "record_completion",
]

#: Statuses a (new) completion may still decide; later statuses belong to other functions.
_UNDECIDED = ("notified", "run_complete")

SQL_LOCK_RUN = "SELECT * FROM codex_judge.runs WHERE workflow_uid = :uid FOR NO KEY UPDATE"
SQL_CLAIM_COMPLETION = """
INSERT INTO codex_judge.run_completions (workflow_uid, phase, finished_at, run_id)
VALUES (:uid, :phase, :finished_at, :run_id)
ON CONFLICT DO NOTHING
RETURNING run_id
"""
# The attempt (the workflow's own when no other run of the issue holds it, else the highest + 1)
# and whether a newer attempt of the issue is still active, in one read. Two texts, chosen by
# whether the workflow asked for an attempt: Postgres keeps a prepared statement's generic plan
# only when it costs about what a custom plan does, and one text serving both cases would be
# planned again on every execution (its custom plan folds the ``IS NULL`` test away).
SQL_CHOOSE_ATTEMPT = """
WITH chosen AS (
    SELECT CASE
             WHEN EXISTS (
                 SELECT 1 FROM codex_judge.runs
                 WHERE repository = :repository AND issue_number = :issue AND id <> :id
                   AND attempt = CAST(:wanted AS integer))
             THEN (SELECT COALESCE(max(attempt), 0) + 1 FROM codex_judge.runs
                   WHERE repository = :repository AND issue_number = :issue AND id <> :id)
             ELSE CAST(:wanted AS integer)
           END AS attempt
)
SELECT chosen.attempt,
       EXISTS (SELECT 1 FROM codex_judge.runs
               WHERE repository = :repository AND issue_number = :issue AND active
                 AND id <> :id AND attempt > chosen.attempt) AS newer_active
FROM chosen
"""
# The same when the workflow asked for no attempt: the highest + 1.
SQL_NEXT_ATTEMPT = """
WITH chosen AS (
    SELECT COALESCE(max(attempt), 0) + 1 AS attempt FROM codex_judge.runs
    WHERE repository = :repository AND issue_number = :issue AND id <> :id
)
SELECT chosen.attempt,
       EXISTS (SELECT 1 FROM codex_judge.runs
               WHERE repository = :repository AND issue_number = :issue AND active
                 AND id <> :id AND attempt > chosen.attempt) AS newer_active
FROM chosen
"""
SQL_SUPERSEDE_OLDER = """
UPDATE codex_judge.runs
SET status = 'superseded', reason = :reason, updated_at = now()
WHERE repository = :repository AND issue_number = :issue AND active AND id <> :id
  AND (attempt IS NULL OR attempt < :attempt)
RETURNING id
"""
SQL_APPLY_COMPLETION = """
UPDATE codex_judge.runs SET
    workflow_name = :workflow_name, namespace = :namespace,
    repository = :repository, issue_number = :issue_number,
    attempt = :attempt, attempt_source = :attempt_source,
    head_sha = :head_sha, head_ref = :head_ref, base_ref = :base_ref,
    pr_number = :pr_number, pr_url = :pr_url, issue_url = :issue_url,
    workflow_url = COALESCE(:workflow_url, workflow_url),
    phase = :phase, finished_at = CAST(:finished_at AS timestamptz),
    status = :status, reason = :reason,
    labels = CAST(:labels AS jsonb), parameters = CAST(:parameters AS jsonb),
    updated_at = now()
WHERE id = :id
RETURNING *
"""
# A completion for a run other functions already own: record the new phase, fill gaps only.
SQL_REFRESH_COMPLETION = """
UPDATE codex_judge.runs SET
    phase = :phase, finished_at = CAST(:finished_at AS timestamptz),
    head_ref = COALESCE(head_ref, :head_ref), base_ref = COALESCE(base_ref, :base_ref),
    pr_number = COALESCE(pr_number, :pr_number), pr_url = COALESCE(pr_url, :pr_url),
    issue_url = COALESCE(issue_url, :issue_url), updated_at = now()
WHERE id = :id
RETURNING *
"""
SQL_RECORD_ARTIFACTS = """
INSERT INTO codex_judge.artifacts (run_id, name, node_id, bucket, key, endpoint, url)
SELECT :run_id, a.name, a.node_id, a.bucket, a.key, a.endpoint, a.url
FROM jsonb_to_recordset(CAST(:artifacts AS jsonb))
     AS a(name text, node_id text, bucket text, key text, endpoint text, url text)
ON CONFLICT (run_id, name) DO NOTHING
"""


@dataclass(frozen=True)
class CompletionResult:
    """What :func:`record_completion` did.

    Attributes:
        run: the run after the write.
        duplicate: this (uid, phase, finishedAt) was already recorded; nothing changed.
        superseded: ids of older runs this completion marked ``superseded``.
        missing: required metadata the run lacks (non-empty → ``needs_human``).
    """

    run: Run
    duplicate: bool = False
    superseded: list[int] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _timestamp(text: str) -> str | None:
    """``finishedAt`` for the timestamptz column: valid RFC 3339 text, else None."""
    if not text:
        return None
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return None
    return text


def merged_metadata(completion: WorkflowCompletion, run: Run) -> RunMetadata:
    """The workflow's metadata, gaps filled from the run's columns, then its notify payload."""
    notify = run.notify_payload
    fallback = {
        "repository": run.repository or repository_name(as_text(notify.get("repository"))),
        "issue_number": run.issue_number or positive_int(notify.get("issue_number")),
        "head_sha": run.head_sha or as_text(notify.get("head_sha")),
        "head_ref": run.head_ref or as_text(notify.get("head_ref")),
        "base_ref": run.base_ref or as_text(notify.get("base_ref")),
        "pr_number": run.pr_number or positive_int(notify.get("pr_number")),
        "pr_url": run.pr_url or as_text(notify.get("pr_url")),
        "issue_url": run.issue_url or as_text(notify.get("issue_url")),
    }
    meta = completion.metadata
    return meta.model_copy(
        update={
            k: v
            for k, v in fallback.items()
            if getattr(meta, k) in (None, "") and v not in (None, "")
        }
    )


def record_completion(
    tx: Tx, completion: WorkflowCompletion, *, workflow_url: str | None = None
) -> CompletionResult:
    """Upsert the run of a finished workflow and store its artifacts (see the module
    docstring for the rules). A workflow uid no run holds yet is recorded in one statement
    (:mod:`shared.runs.new_run`); otherwise the run is locked and the completion claimed.

    Args:
        completion: the parsed completion.
        workflow_url: a link to the workflow in the Argo UI, when one is configured.

    Returns:
        A :class:`CompletionResult`; ``duplicate`` is True when this completion was recorded
        before (the run is returned unchanged, no artifact stored).

    Raises:
        ConflictError: a concurrent completion of the same issue or workflow won a race; the
            transaction is lost and the redelivery records it with that one visible.
        TransientError: via the pool, when the database fails in a retryable way.
    """
    finished_at = _timestamp(completion.finished_at)
    fresh = record_new_run(tx, completion, workflow_url=workflow_url, finished_at=finished_at)
    if fresh is not None:  # the common case: one statement (shared.runs.new_run)
        run, superseded, missing = fresh
        return CompletionResult(run=run, superseded=superseded, missing=missing)
    # A run holds this workflow uid (notified, or an earlier completion): lock it, then claim
    # this completion.
    row = tx.one(SQL_LOCK_RUN, uid=completion.uid)
    if row is None:  # runs are never deleted: only a concurrent insert not yet visible
        raise ConflictError(f"workflow {completion.uid} is being recorded concurrently; retry")
    run = Run.from_row(row)
    claim = {
        "uid": completion.uid,
        "phase": completion.phase,
        "finished_at": completion.finished_at,
    }
    if tx.one(SQL_CLAIM_COMPLETION, run_id=run.id, **claim) is None:
        return CompletionResult(run=run, duplicate=True)
    record_artifacts(tx, run.id, completion.artifacts)
    meta = merged_metadata(completion, run)
    undecided = run.status in _UNDECIDED or run.escalated_for(MISSING_RUN_METADATA)
    if not undecided:
        refreshed = tx.one(
            SQL_REFRESH_COMPLETION,
            id=run.id,
            phase=completion.phase,
            finished_at=finished_at,
            head_ref=meta.head_ref,
            base_ref=meta.base_ref,
            pr_number=meta.pr_number,
            pr_url=meta.pr_url,
            issue_url=meta.issue_url,
        )
        return CompletionResult(run=Run.from_row(refreshed) if refreshed else run)
    missing = meta.missing_required()
    base = {
        **completion_columns(completion, meta, workflow_url),
        "id": run.id,
        "workflow_name": completion.name or run.workflow_name,
        "namespace": completion.namespace or run.namespace,
        "issue_number": meta.issue_number,
        "finished_at": finished_at,
    }
    if meta.repository is None or meta.issue_number is None:
        row = tx.one(
            SQL_APPLY_COMPLETION,
            **base,
            attempt=meta.attempt,
            attempt_source="workflow" if meta.attempt else None,
            status="needs_human",
            reason=MISSING_RUN_METADATA,
        )
        assert row is not None
        return CompletionResult(run=Run.from_row(row), missing=missing)
    return _apply_with_attempt(tx, base, meta, missing)


def _apply_with_attempt(
    tx: Tx, base: dict[str, Any], meta: RunMetadata, missing: list[str]
) -> CompletionResult:
    """Assign the attempt and status, superseding older active runs of the issue.

    Raises:
        ConflictError: a concurrent completion of the same issue took the chosen attempt (or
            became its active run) first; the transaction is lost, and the redelivery (409 is
            retried) chooses again with that run visible.
    """
    keys = {"repository": meta.repository, "issue": meta.issue_number, "id": base["id"]}
    try:
        if meta.attempt is None:
            chosen = tx.one(SQL_NEXT_ATTEMPT, **keys)
        else:
            chosen = tx.one(SQL_CHOOSE_ATTEMPT, wanted=meta.attempt, **keys)
        assert chosen is not None  # a one-row SELECT
        attempt = int(chosen["attempt"])
        source = "workflow" if attempt == meta.attempt else "computed"
        superseded: list[int] = []
        if missing:
            status, reason = "needs_human", MISSING_RUN_METADATA
        elif chosen["newer_active"]:
            status, reason = "superseded", SUPERSEDED_BY_NEWER_ATTEMPT
        else:
            status, reason = "waiting_for_ci", None
            superseded = [
                r["id"]
                for r in tx.all(
                    SQL_SUPERSEDE_OLDER, attempt=attempt, reason=SUPERSEDED_BY_NEW_ATTEMPT, **keys
                )
            ]
        row = tx.one(
            SQL_APPLY_COMPLETION,
            **base,
            attempt=attempt,
            attempt_source=source,
            status=status,
            reason=reason,
        )
    except UniqueViolation as exc:
        raise ConflictError(
            f"a concurrent completion of {meta.repository}#{meta.issue_number} took attempt"
            " or the active run first; retry"
        ) from exc
    assert row is not None
    return CompletionResult(run=Run.from_row(row), superseded=superseded, missing=missing)


def record_artifacts(tx: Tx, run_id: int, artifacts: Iterable[Artifact]) -> None:
    """Store a run's artifacts once each (unique ``(run_id, name)``); repeats are ignored."""
    rows = list(artifacts)
    if rows:
        tx.run(SQL_RECORD_ARTIFACTS, run_id=run_id, artifacts=artifacts_json(rows))
