"""``codex_judge.deploys``: one row per run whose merge is being deployed (migration 0007).

The state only moves forward, compare-and-set in SQL (DESIGN §5)::

    deploying ──► verifying ──► verified
        │             │
        └─────────────┴───────► failed

Every read that precedes a change locks the row (``FOR UPDATE``) so a tick and a
verification completion for the same run are handled one after the other. A tick takes the
lock with ``SKIP LOCKED``: it never waits on an event handler that already holds the row (the
handler may be waiting on the tick's timer row; waiting both ways would deadlock).
"""

from __future__ import annotations

import json
from typing import Any

from shared.db import Tx

SQL_INSERT = """
INSERT INTO codex_judge.deploys
    (run_id, repository, pr_number, merge_commit_sha, mode, state, application, namespace)
VALUES (:run_id, :repository, :pr_number, :sha, :mode, 'deploying', :application, :namespace)
ON CONFLICT (run_id) DO NOTHING
"""
SQL_LOCK = "SELECT * FROM codex_judge.deploys WHERE run_id = :run_id FOR UPDATE"
SQL_LOCK_NOWAIT = "SELECT * FROM codex_judge.deploys WHERE run_id = :run_id FOR UPDATE SKIP LOCKED"
SQL_DEPLOY_WORKFLOW = """
UPDATE codex_judge.deploys SET deploy_workflow = :name, updated_at = now()
WHERE run_id = :run_id AND state = 'deploying'
"""
SQL_VERIFYING = """
UPDATE codex_judge.deploys
   SET state = 'verifying', revision = :revision, verify_workflow = :verify_workflow,
       deployed_at = now(), verify_submitted_at = now(), updated_at = now()
 WHERE run_id = :run_id AND state = 'deploying'
RETURNING *
"""
SQL_VERIFIED = """
UPDATE codex_judge.deploys
   SET state = 'verified', concluded_at = now(), updated_at = now()
 WHERE run_id = :run_id AND state = 'verifying'
RETURNING *
"""
SQL_FAILED = """
UPDATE codex_judge.deploys
   SET state = 'failed', failure_reason = :reason, failing_tests = CAST(:failing AS jsonb),
       next_prompt = :next_prompt, remedy = CAST(:remedy AS jsonb), concluded_at = now(),
       updated_at = now()
 WHERE run_id = :run_id AND state IN ('deploying', 'verifying')
RETURNING *
"""


def create(
    tx: Tx,
    *,
    run_id: int,
    repository: str,
    pr_number: int,
    merge_commit_sha: str,
    mode: str,
    application: str | None,
    namespace: str,
) -> dict[str, Any]:
    """Insert the deploy of ``run_id`` unless it exists; returns the (locked) row either way."""
    tx.run(
        SQL_INSERT,
        run_id=run_id,
        repository=repository,
        pr_number=pr_number,
        sha=merge_commit_sha,
        mode=mode,
        application=application,
        namespace=namespace,
    )
    row = lock(tx, run_id)
    assert row is not None  # inserted or already there, in this transaction
    return row


def lock(tx: Tx, run_id: int, *, skip_locked: bool = False) -> dict[str, Any] | None:
    """The deploy row of ``run_id``, locked; None when there is none (or it is locked and
    ``skip_locked`` is set)."""
    return tx.one(SQL_LOCK_NOWAIT if skip_locked else SQL_LOCK, run_id=run_id)


def set_deploy_workflow(tx: Tx, run_id: int, name: str) -> None:
    """Record the name of the submitted deploy workflow (argo_workflow mode)."""
    tx.run(SQL_DEPLOY_WORKFLOW, run_id=run_id, name=name)


def mark_verifying(
    tx: Tx, run_id: int, *, revision: str, verify_workflow: str
) -> dict[str, Any] | None:
    """deploying → verifying at ``revision`` (40-hex); None when the row was not deploying."""
    return tx.one(SQL_VERIFYING, run_id=run_id, revision=revision, verify_workflow=verify_workflow)


def mark_verified(tx: Tx, run_id: int) -> dict[str, Any] | None:
    """verifying → verified; None when the row was not verifying."""
    return tx.one(SQL_VERIFIED, run_id=run_id)


def mark_failed(
    tx: Tx,
    run_id: int,
    *,
    reason: str,
    failing_tests: list[str],
    next_prompt: str,
    remedy: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """deploying|verifying → failed; None when the deploy had already concluded."""
    return tx.one(
        SQL_FAILED,
        run_id=run_id,
        reason=reason,
        failing=json.dumps(failing_tests),
        next_prompt=next_prompt,
        remedy=json.dumps(remedy) if remedy is not None else None,
    )
