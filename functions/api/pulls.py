"""``GET /api/github/pulls/{owner}/{repo}/{number}``: one pull request as the projections of
GitHub know it (``github.pr_state``, ``check_state``, ``review_threads``, ``review_state``,
written by github-webhook and the gates) with the judge's runs of it.

Checks are grouped by commit SHA, newest first: the SHAs are the PR's head now and every head a
run of it was judged at; a group's time is its newest check's own timestamp. Files are the
PR's changed paths at its newest known head SHA (``github.pr_files``), each with its ``source``:
the worktree snapshot's row wins over a GitHub-sourced row of the same path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.db import Tx

SQL_PULL = """
SELECT repository, pr_number AS number, title, state, merged, draft, head_sha, head_ref,
       base_ref, base_sha, mergeable_state, html_url, source_updated_at
FROM github.pr_state WHERE repository = :repository AND pr_number = :number
"""
SQL_RUNS = """
SELECT r.id, r.issue_number, r.attempt, r.status, r.decision, r.reason, r.head_sha,
       r.created_at, e.decision AS judged, e.judge_kind, e.confidence, e.policy_hash
FROM codex_judge.runs r
LEFT JOIN codex_judge.evaluations e ON e.run_id = r.id AND e.stage = 'final'
WHERE r.repository = :repository AND r.pr_number = :number
ORDER BY r.id DESC
LIMIT 200
"""
SQL_CHECKS = """
SELECT head_sha, kind, name, app_slug, status, conclusion, details_url,
       COALESCE(source_updated_at, observed_at) AS updated_at
FROM github.check_state
WHERE repository = :repository AND head_sha = ANY(:shas)
ORDER BY head_sha, name, kind, app_slug
"""
SQL_THREADS = """
SELECT thread_id, is_resolved, is_outdated, path, line, author, body, url
FROM github.review_threads WHERE repository = :repository AND pr_number = :number
ORDER BY is_resolved, path NULLS LAST, line NULLS LAST, thread_id
LIMIT 500
"""
SQL_FILES = """
SELECT DISTINCT ON (path) path, source, status, previous_path, additions, deletions
FROM github.pr_files
WHERE repository = :repository AND pr_number = :number AND head_sha = :head_sha
ORDER BY path, source = 'worktree' DESC
LIMIT 3000
"""
SQL_REVIEWS = """
SELECT reviewer, state, commit_id, body, submitted_at
FROM github.review_state WHERE repository = :repository AND pr_number = :number
ORDER BY submitted_at DESC NULLS LAST, reviewer
"""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PullState(_Model):
    """The PR's newest projected state (by GitHub's own timestamp)."""

    repository: str
    number: int
    title: str | None
    state: str | None
    merged: bool | None
    draft: bool | None
    head_sha: str | None
    head_ref: str | None
    base_ref: str | None
    base_sha: str | None
    mergeable_state: str | None
    html_url: str | None
    source_updated_at: datetime | None


class JudgeRun(_Model):
    """A run of this PR and its sealed verdict (``judged`` None: not judged yet)."""

    id: int
    issue_number: int | None
    attempt: int | None
    status: str
    decision: str | None
    reason: str | None
    head_sha: str | None
    created_at: datetime
    judged: str | None
    judge_kind: str | None
    confidence: float | None
    policy_hash: str | None


class Check(_Model):
    """A check run or commit status (the newest per name and app)."""

    kind: str
    name: str
    app_slug: str
    status: str
    conclusion: str | None
    details_url: str | None
    updated_at: datetime


class CommitChecks(_Model):
    head_sha: str
    latest_at: datetime = Field(description="the newest check's own timestamp")
    checks: list[Check]


class ReviewThread(_Model):
    thread_id: str
    is_resolved: bool
    is_outdated: bool
    path: str | None
    line: int | None
    author: str | None
    body: str | None
    url: str | None


class Review(_Model):
    """Each reviewer's latest review."""

    reviewer: str
    state: str
    commit_id: str | None
    body: str | None
    submitted_at: datetime | None


class ChangedFile(_Model):
    """A changed path at the head SHA, and where the list came from (``worktree``: the snapshot
    the judge made from the merge base; ``github``: GitHub's PR files or diff, the fallback)."""

    path: str
    source: str
    status: str
    previous_path: str | None
    additions: int
    deletions: int


class PullDetail(_Model):
    """One pull request: state, the judge's runs, checks by commit, files, threads, reviews."""

    pull: PullState | None = Field(description="null: no webhook or gate projected it yet")
    judge_runs: list[JudgeRun]
    checks: list[CommitChecks] = Field(description="grouped by commit SHA, newest first")
    files_head_sha: str | None = Field(description="the head SHA the files are of")
    files: list[ChangedFile]
    threads: list[ReviewThread]
    reviews: list[Review]


def pull_detail(tx: Tx, repository: str, number: int) -> PullDetail | None:
    """The PR ``repository#number``, or None when nothing is known of it."""
    pull_row = tx.one(SQL_PULL, repository=repository, number=number)
    runs = [
        JudgeRun.model_validate(r) for r in tx.all(SQL_RUNS, repository=repository, number=number)
    ]
    if pull_row is None and not runs:
        return None
    pull = PullState.model_validate(pull_row) if pull_row else None
    shas = {r.head_sha for r in runs if r.head_sha}
    if pull and pull.head_sha:
        shas.add(pull.head_sha)
    groups: dict[str, list[Check]] = {}
    for row in tx.all(SQL_CHECKS, repository=repository, shas=sorted(shas)):
        sha = row.pop("head_sha")
        groups.setdefault(sha, []).append(Check.model_validate(row))
    checks = sorted(
        (
            CommitChecks(head_sha=sha, latest_at=max(c.updated_at for c in items), checks=items)
            for sha, items in groups.items()
        ),
        key=lambda group: group.latest_at,
        reverse=True,
    )
    params: dict[str, Any] = {"repository": repository, "number": number}
    head = (pull.head_sha if pull else None) or next((r.head_sha for r in runs if r.head_sha), None)
    files = (
        [ChangedFile.model_validate(r) for r in tx.all(SQL_FILES, head_sha=head, **params)]
        if head
        else []
    )
    return PullDetail(
        pull=pull,
        judge_runs=runs,
        checks=checks,
        files_head_sha=head,
        files=files,
        threads=[ReviewThread.model_validate(r) for r in tx.all(SQL_THREADS, **params)],
        reviews=[Review.model_validate(r) for r in tx.all(SQL_REVIEWS, **params)],
    )
