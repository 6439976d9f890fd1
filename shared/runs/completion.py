"""Recording a finished workflow as a run: completion dedupe, attempts, supersession,
``needs_human`` for missing metadata, artifacts (rules in :mod:`shared.runs`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.argo.metadata import positive_int, repository_name
from shared.argo.model import Artifact, RunMetadata, WorkflowCompletion
from shared.db import Tx, UniqueViolation
from shared.runs.model import Run

MISSING_RUN_METADATA = "missing_run_metadata"
SUPERSEDED_BY_NEW_ATTEMPT = "superseded_by_new_attempt"
SUPERSEDED_BY_NEWER_ATTEMPT = "superseded_by_newer_attempt"
#: Statuses a (new) completion may still decide; later statuses belong to other functions.
_UNDECIDED = ("notified", "run_complete")
_ATTEMPT_RETRIES = 5

SQL_ENSURE_RUN = """
INSERT INTO codex_judge.runs (workflow_uid, status) VALUES (:uid, 'run_complete')
ON CONFLICT (workflow_uid) DO NOTHING
"""
SQL_LOCK_RUN = "SELECT * FROM codex_judge.runs WHERE workflow_uid = :uid FOR NO KEY UPDATE"
SQL_CLAIM_COMPLETION = """
INSERT INTO codex_judge.run_completions (workflow_uid, phase, finished_at, run_id)
VALUES (:uid, :phase, :finished_at, :run_id)
ON CONFLICT DO NOTHING
RETURNING run_id
"""
SQL_ATTEMPT_TAKEN = """
SELECT 1 AS taken FROM codex_judge.runs
WHERE repository = :repository AND issue_number = :issue AND attempt = :attempt AND id <> :id
"""
SQL_MAX_ATTEMPT = """
SELECT COALESCE(max(attempt), 0) AS max_attempt FROM codex_judge.runs
WHERE repository = :repository AND issue_number = :issue AND id <> :id
"""
SQL_NEWER_ACTIVE = """
SELECT id FROM codex_judge.runs
WHERE repository = :repository AND issue_number = :issue AND active AND id <> :id
  AND attempt > :attempt
LIMIT 1
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
        "repository": run.repository or repository_name(_text(notify.get("repository"))),
        "issue_number": run.issue_number or positive_int(notify.get("issue_number")),
        "head_sha": run.head_sha or _text(notify.get("head_sha")),
        "head_ref": run.head_ref or _text(notify.get("head_ref")),
        "base_ref": run.base_ref or _text(notify.get("base_ref")),
        "pr_number": run.pr_number or positive_int(notify.get("pr_number")),
        "pr_url": run.pr_url or _text(notify.get("pr_url")),
        "issue_url": run.issue_url or _text(notify.get("issue_url")),
    }
    meta = completion.metadata
    return meta.model_copy(
        update={
            k: v
            for k, v in fallback.items()
            if getattr(meta, k) in (None, "") and v not in (None, "")
        }
    )


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def record_completion(
    tx: Tx, completion: WorkflowCompletion, *, workflow_url: str | None = None
) -> CompletionResult:
    """Upsert the run of a finished workflow (see the module docstring for the rules).

    Args:
        completion: the parsed completion.
        workflow_url: a link to the workflow in the Argo UI, when one is configured.

    Returns:
        A :class:`CompletionResult`; ``duplicate`` is True when this completion was recorded
        before (the run is returned unchanged).

    Raises:
        TransientError: via the pool, when the database fails in a retryable way.
    """
    tx.run(SQL_ENSURE_RUN, uid=completion.uid)
    row = tx.one(SQL_LOCK_RUN, uid=completion.uid)
    assert row is not None  # inserted or already present, and locked, in this transaction
    run = Run.from_row(row)
    claimed = tx.one(
        SQL_CLAIM_COMPLETION,
        uid=completion.uid,
        phase=completion.phase,
        finished_at=completion.finished_at,
        run_id=run.id,
    )
    if claimed is None:
        return CompletionResult(run=run, duplicate=True)
    meta = merged_metadata(completion, run)
    finished_at = _timestamp(completion.finished_at)
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
        "id": run.id,
        "workflow_name": completion.name or run.workflow_name,
        "namespace": completion.namespace or run.namespace,
        "repository": meta.repository,
        "issue_number": meta.issue_number,
        "head_sha": meta.head_sha,
        "head_ref": meta.head_ref,
        "base_ref": meta.base_ref,
        "pr_number": meta.pr_number,
        "pr_url": meta.pr_url,
        "issue_url": meta.issue_url,
        "workflow_url": workflow_url,
        "phase": completion.phase,
        "finished_at": finished_at,
        "labels": json.dumps(completion.labels),
        "parameters": json.dumps(completion.parameters),
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
    """Assign the attempt and status; retried when a concurrent run takes the same attempt."""
    keys = {"repository": meta.repository, "issue": meta.issue_number, "id": base["id"]}
    for tries in range(_ATTEMPT_RETRIES):
        try:
            with tx.savepoint("run_attempt"):
                attempt, source = _choose_attempt(tx, keys, meta.attempt)
                superseded: list[int] = []
                if missing:
                    status, reason = "needs_human", MISSING_RUN_METADATA
                elif tx.one(SQL_NEWER_ACTIVE, attempt=attempt, **keys):
                    status, reason = "superseded", SUPERSEDED_BY_NEWER_ATTEMPT
                else:
                    status, reason = "waiting_for_ci", None
                    superseded = [
                        r["id"]
                        for r in tx.all(
                            SQL_SUPERSEDE_OLDER,
                            attempt=attempt,
                            reason=SUPERSEDED_BY_NEW_ATTEMPT,
                            **keys,
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
        except UniqueViolation:
            if tries == _ATTEMPT_RETRIES - 1:
                raise
            continue
        assert row is not None
        return CompletionResult(run=Run.from_row(row), superseded=superseded, missing=missing)
    raise AssertionError("unreachable: the loop returns or raises")


def _choose_attempt(tx: Tx, keys: Mapping[str, Any], wanted: int | None) -> tuple[int, str]:
    """``(attempt, attempt_source)``: the wanted attempt if free, else max + 1."""
    if wanted is not None and tx.one(SQL_ATTEMPT_TAKEN, attempt=wanted, **keys) is None:
        return wanted, "workflow"
    row = tx.one(SQL_MAX_ATTEMPT, **keys)
    return int(row["max_attempt"] if row else 0) + 1, "computed"


def record_artifacts(tx: Tx, run_id: int, artifacts: Iterable[Artifact]) -> None:
    """Store a run's artifacts once each (unique ``(run_id, name)``); repeats are ignored."""
    rows = [
        a.model_dump(include={"name", "node_id", "bucket", "key", "endpoint", "url"})
        for a in artifacts
    ]
    if rows:
        tx.run(SQL_RECORD_ARTIFACTS, run_id=run_id, artifacts=json.dumps(rows))
