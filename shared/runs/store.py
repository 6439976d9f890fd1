"""Reading runs: lookups and the row lock, every row returned as a :class:`~shared.runs.model.Run`.

Locks are ``FOR NO KEY UPDATE``: a run is locked against every other decider for the rest of
the transaction, while rows that reference it (effects, write actions, evaluations) can still
be inserted from another connection (a ``FOR UPDATE`` lock would block their foreign-key check
and deadlock the effects outbox, which writes on its own connection). A run's id never changes
and runs are never deleted, so the weaker lock loses nothing.
"""

from __future__ import annotations

from typing import Any

from shared.db import Tx
from shared.runs.model import Run

SQL_GET_RUN = "SELECT * FROM codex_judge.runs WHERE id = :id"
SQL_LOCK_RUN = "SELECT * FROM codex_judge.runs WHERE id = :id FOR NO KEY UPDATE"
SQL_GET_RUN_BY_UID = "SELECT * FROM codex_judge.runs WHERE workflow_uid = :uid"
SQL_ACTIVE_FOR_SHA = """
SELECT * FROM codex_judge.runs
WHERE repository = :repository AND head_sha = :head_sha AND active ORDER BY id
"""
SQL_ACTIVE_FOR_PR = """
SELECT * FROM codex_judge.runs
WHERE repository = :repository AND pr_number = :pr_number AND active ORDER BY id
"""
SQL_WAITING_FOR_CI_AT_SHA = """
SELECT * FROM codex_judge.runs
WHERE repository = :repository AND head_sha = :head_sha AND active
  AND status = 'waiting_for_ci' AND ci_verdict IS NULL
ORDER BY id
FOR NO KEY UPDATE
"""
SQL_WAITING_FOR_REVIEW_ON_PR = """
SELECT * FROM codex_judge.runs
WHERE repository = :repository AND pr_number = :pr_number AND active
  AND status IN ('run_complete', 'waiting_for_ci', 'waiting_for_review')
  AND review_verdict IS NULL AND head_sha IS NOT NULL
ORDER BY id
FOR NO KEY UPDATE
"""
# Runs waiting for a CI verdict without any pending timer of ``:owner`` (shared.waits.orphans).
SQL_WAITING_FOR_CI_WITHOUT_TIMER = """
SELECT r.*, EXTRACT(EPOCH FROM (now() - r.updated_at))::float8 AS waited_s
FROM codex_judge.runs r
WHERE r.active AND r.status = 'waiting_for_ci' AND r.ci_verdict IS NULL
  AND r.repository IS NOT NULL AND r.head_sha IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM runtime.timers t
      WHERE t.owner = :owner AND t.run_id = r.id AND t.done_at IS NULL)
ORDER BY r.id
LIMIT :limit
"""
# Runs waiting for a review verdict without any pending timer of ``:owner``.
SQL_WAITING_FOR_REVIEW_WITHOUT_TIMER = """
SELECT r.*, EXTRACT(EPOCH FROM (now() - r.updated_at))::float8 AS waited_s
FROM codex_judge.runs r
WHERE r.active AND r.review_verdict IS NULL
  AND r.status IN ('run_complete', 'waiting_for_ci', 'waiting_for_review')
  AND r.repository IS NOT NULL AND r.pr_number IS NOT NULL AND r.head_sha IS NOT NULL
  AND NOT EXISTS (
      SELECT 1 FROM runtime.timers t
      WHERE t.owner = :owner AND t.run_id = r.id AND t.done_at IS NULL)
ORDER BY r.id
LIMIT :limit
"""
SQL_MAX_ATTEMPT = """
SELECT max(attempt) AS attempt FROM codex_judge.runs
WHERE repository = :repository AND issue_number = :issue
"""
SQL_LATEST_PR_NUMBER = """
SELECT pr_number FROM codex_judge.runs
WHERE repository = :repository AND pr_number IS NOT NULL
ORDER BY id DESC LIMIT 1
"""


def _run(row: dict[str, Any] | None) -> Run | None:
    return None if row is None else Run.from_row(row)


def get_run(tx: Tx, run_id: int) -> Run | None:
    """The run with id ``run_id``, or None (a value: callers record "not found")."""
    return _run(tx.one(SQL_GET_RUN, id=run_id))


def lock(tx: Tx, run_id: int) -> Run | None:
    """The run with id ``run_id``, locked for the rest of ``tx`` (see the module docstring);
    None when no run has that id. A concurrent decider waits here, then sees what this one
    wrote."""
    return _run(tx.one(SQL_LOCK_RUN, id=run_id))


def get_run_by_uid(tx: Tx, workflow_uid: str) -> Run | None:
    """The run of Argo workflow ``workflow_uid``, or None."""
    return _run(tx.one(SQL_GET_RUN_BY_UID, uid=workflow_uid))


def active_runs_for_sha(tx: Tx, repository: str, head_sha: str) -> list[Run]:
    """Active runs of ``repository`` (``owner/name``) whose head SHA is ``head_sha``, by id."""
    rows = tx.all(SQL_ACTIVE_FOR_SHA, repository=repository, head_sha=head_sha)
    return [Run.from_row(r) for r in rows]


def active_runs_for_pr(tx: Tx, repository: str, pr_number: int) -> list[Run]:
    """Active runs of ``repository`` for pull request ``pr_number``, by id."""
    rows = tx.all(SQL_ACTIVE_FOR_PR, repository=repository, pr_number=pr_number)
    return [Run.from_row(r) for r in rows]


def lock_waiting_for_ci(tx: Tx, repository: str, head_sha: str) -> list[Run]:
    """Active runs of ``repository`` in ``waiting_for_ci`` without a CI verdict whose head SHA
    is ``head_sha`` (the exact commit, DESIGN §12.4), by id, each locked."""
    rows = tx.all(SQL_WAITING_FOR_CI_AT_SHA, repository=repository, head_sha=head_sha)
    return [Run.from_row(r) for r in rows]


def lock_waiting_for_review(tx: Tx, repository: str, pr_number: int) -> list[Run]:
    """Active runs of pull request ``pr_number`` not yet past ``waiting_for_review``, with a
    head SHA and without a review verdict, by id, each locked."""
    rows = tx.all(SQL_WAITING_FOR_REVIEW_ON_PR, repository=repository, pr_number=pr_number)
    return [Run.from_row(r) for r in rows]


def max_attempt(tx: Tx, repository: str, issue_number: int) -> int | None:
    """The highest attempt of any run of ``repository`` issue ``issue_number``; None if none."""
    row = tx.one(SQL_MAX_ATTEMPT, repository=repository, issue=issue_number)
    return None if row is None or row["attempt"] is None else int(row["attempt"])


def latest_pr_number(tx: Tx, repository: str) -> int | None:
    """The pull request number of the newest run of ``repository`` that has one, or None."""
    row = tx.one(SQL_LATEST_PR_NUMBER, repository=repository)
    return None if row is None else int(row["pr_number"])


def _waited(rows: list[dict[str, Any]]) -> list[tuple[Run, float]]:
    return [(Run.from_row(r), float(r["waited_s"])) for r in rows]


def waiting_for_ci_without_timer(tx: Tx, *, owner: str, limit: int) -> list[tuple[Run, float]]:
    """Runs waiting for a CI verdict (with a repository and head SHA) that hold no pending
    timer of ``owner``, by id, at most ``limit``; each with the seconds since it last changed
    (by the database clock)."""
    return _waited(tx.all(SQL_WAITING_FOR_CI_WITHOUT_TIMER, owner=owner, limit=limit))


def waiting_for_review_without_timer(tx: Tx, *, owner: str, limit: int) -> list[tuple[Run, float]]:
    """Runs waiting for a review verdict (with a repository, pull request and head SHA) that
    hold no pending timer of ``owner``, by id, at most ``limit``; each with the seconds since
    it last changed."""
    return _waited(tx.all(SQL_WAITING_FOR_REVIEW_WITHOUT_TIMER, owner=owner, limit=limit))
