"""GitHub state projections: webhook payloads and REST/GraphQL reads folded into the ``github``
tables (DESIGN §5). Every write keeps the **newest by GitHub's own timestamp**, never the last
write, so a late or reordered delivery cannot roll state back:

* ``pr_state``: newest ``updated_at`` wins; on a tie the row is refreshed but a known
  ``mergeable``/``mergeable_state`` is not replaced by GitHub's "not computed yet" (null/unknown).
* ``check_state``: one row per (commit, kind, name, app). A re-run is a new check run with a
  larger id, so the larger id wins, then the later timestamp (``completed_at`` or
  ``started_at``; a status's ``updated_at``), then completed over not completed.
* ``check_suites``: one row per suite id, newest by its ``updated_at``; codex-judge's own
  re-request of a suite is recorded on it, and the suite's check runs known at that moment read
  as ``requested`` until the re-run reports (larger ids).
* ``review_state``: each reviewer's latest review per PR by (``submitted_at``, review id); the
  same review may move on (submitted → dismissed) but never back.
* ``review_threads``: GitHub sends no timestamp for resolving a thread, so a webhook only
  inserts a thread not seen yet; a GraphQL snapshot (read now, so newer than any delivery)
  replaces the rows of its threads.
* ``comments``: inserted once; an ``edited`` delivery refreshes the body.

Commit statuses are stored as ``kind='status'`` with ``status`` ``completed`` (conclusion = the
state) or ``pending``, so the CI rule treats check runs and statuses alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.db import Tx
from shared.errors import InvalidDataError
from shared.models.events import CheckSummary
from shared.models.github import (
    CheckRun,
    CheckSuite,
    CommitStatus,
    PullRequest,
    Review,
    ReviewComment,
    ReviewThread,
    User,
)
from shared.runtime.envelope import parse_model

SQL_UPSERT_PULL = """
INSERT INTO github.pr_state AS p (repository, pr_number, head_sha, head_ref, base_ref, base_sha,
    state, merged, draft, mergeable, mergeable_state, title, html_url, source_updated_at)
VALUES (:repository, :number, :head_sha, :head_ref, :base_ref, :base_sha, :state, :merged,
    :draft, :mergeable, :mergeable_state, :title, :html_url, CAST(:updated_at AS timestamptz))
ON CONFLICT (repository, pr_number) DO UPDATE SET
    head_sha = EXCLUDED.head_sha, head_ref = EXCLUDED.head_ref, base_ref = EXCLUDED.base_ref,
    base_sha = EXCLUDED.base_sha, state = EXCLUDED.state,
    merged = COALESCE(EXCLUDED.merged, p.merged), draft = EXCLUDED.draft,
    mergeable = CASE WHEN EXCLUDED.mergeable IS NULL AND p.head_sha = EXCLUDED.head_sha
                     THEN p.mergeable ELSE EXCLUDED.mergeable END,
    mergeable_state = CASE WHEN COALESCE(EXCLUDED.mergeable_state, 'unknown') = 'unknown'
                                AND p.head_sha = EXCLUDED.head_sha
                           THEN p.mergeable_state ELSE EXCLUDED.mergeable_state END,
    title = EXCLUDED.title, html_url = EXCLUDED.html_url,
    source_updated_at = EXCLUDED.source_updated_at, observed_at = now()
WHERE p.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL
   OR EXCLUDED.source_updated_at >= p.source_updated_at
"""

SQL_UPSERT_CHECK = """
INSERT INTO github.check_state AS c (repository, head_sha, kind, name, app_slug, app_id,
    suite_id, external_id, status, conclusion, details_url, source_updated_at)
VALUES (:repository, :head_sha, :kind, :name, :app_slug, :app_id, :suite_id, :external_id,
    :status, :conclusion, :details_url, CAST(:updated_at AS timestamptz))
ON CONFLICT (repository, head_sha, kind, name, app_slug) DO UPDATE SET
    app_id = COALESCE(EXCLUDED.app_id, c.app_id),
    suite_id = COALESCE(EXCLUDED.suite_id, c.suite_id),
    external_id = EXCLUDED.external_id, status = EXCLUDED.status,
    conclusion = EXCLUDED.conclusion, details_url = EXCLUDED.details_url,
    source_updated_at = EXCLUDED.source_updated_at, observed_at = now()
WHERE (COALESCE(CAST(EXCLUDED.external_id AS numeric), 0),
       COALESCE(EXCLUDED.source_updated_at, '-infinity'::timestamptz),
       EXCLUDED.status = 'completed')
    > (COALESCE(CAST(c.external_id AS numeric), 0),
       COALESCE(c.source_updated_at, '-infinity'::timestamptz),
       c.status = 'completed')
"""

# A check run whose id is at or below the suite's `rerequested_after_id` belongs to the attempt
# codex-judge asked GitHub to re-run: it reads as requested (pending) until the re-run reports
# with a larger id, so one failure never triggers two retries.
SQL_CHECKS_FOR_SHA = """
SELECT c.kind, c.name, c.app_slug, c.app_id, c.details_url,
       CASE WHEN c.kind = 'check_run' AND CAST(c.external_id AS numeric) <= s.rerequested_after_id
            THEN 'requested' ELSE c.status END AS status,
       CASE WHEN c.kind = 'check_run' AND CAST(c.external_id AS numeric) <= s.rerequested_after_id
            THEN NULL ELSE c.conclusion END AS conclusion
FROM github.check_state c
LEFT JOIN github.check_suites s ON s.repository = c.repository AND s.suite_id = c.suite_id
WHERE c.repository = :repository AND c.head_sha = :head_sha
ORDER BY c.name, c.kind, c.app_slug
"""

SQL_UPSERT_SUITE = """
INSERT INTO github.check_suites AS s (repository, suite_id, head_sha, app_slug, app_id, status,
    conclusion, check_runs_count, source_updated_at)
VALUES (:repository, :suite_id, :head_sha, :app_slug, :app_id, :status, :conclusion,
    :check_runs_count, CAST(:updated_at AS timestamptz))
ON CONFLICT (repository, suite_id) DO UPDATE SET
    status = EXCLUDED.status, conclusion = EXCLUDED.conclusion,
    check_runs_count = COALESCE(EXCLUDED.check_runs_count, s.check_runs_count),
    app_slug = EXCLUDED.app_slug, app_id = COALESCE(EXCLUDED.app_id, s.app_id),
    source_updated_at = EXCLUDED.source_updated_at, observed_at = now()
WHERE (COALESCE(EXCLUDED.source_updated_at, '-infinity'::timestamptz),
       EXCLUDED.status = 'completed')
   >= (COALESCE(s.source_updated_at, '-infinity'::timestamptz), s.status = 'completed')
"""

SQL_SUITES_FOR_SHA = """
SELECT suite_id, app_slug, app_id, status, conclusion, check_runs_count, rerequested_at,
       rerequested_after_id
FROM github.check_suites WHERE repository = :repository AND head_sha = :head_sha
ORDER BY suite_id
"""

SQL_MARK_REREQUESTED = """
INSERT INTO github.check_suites AS s (repository, suite_id, head_sha, rerequested_at,
    rerequested_after_id)
VALUES (:repository, :suite_id, :head_sha, now(), (
    SELECT max(CAST(external_id AS numeric)) FROM github.check_state
    WHERE repository = :repository AND suite_id = :suite_id AND kind = 'check_run'))
ON CONFLICT (repository, suite_id) DO UPDATE SET
    rerequested_at = EXCLUDED.rerequested_at,
    rerequested_after_id = EXCLUDED.rerequested_after_id
"""

SQL_UPSERT_REVIEW = """
INSERT INTO github.review_state AS r (repository, pr_number, reviewer, review_id, state,
    commit_id, body, submitted_at)
VALUES (:repository, :number, :reviewer, :review_id, :state, :commit_id, :body,
    CAST(:submitted_at AS timestamptz))
ON CONFLICT (repository, pr_number, reviewer) DO UPDATE SET
    review_id = EXCLUDED.review_id, state = EXCLUDED.state, commit_id = EXCLUDED.commit_id,
    body = EXCLUDED.body, submitted_at = EXCLUDED.submitted_at, observed_at = now()
WHERE (r.review_id = EXCLUDED.review_id AND r.state <> 'DISMISSED')
   OR (COALESCE(EXCLUDED.submitted_at, '-infinity'::timestamptz),
       CAST(EXCLUDED.review_id AS numeric))
    > (COALESCE(r.submitted_at, '-infinity'::timestamptz), CAST(r.review_id AS numeric))
"""

SQL_REVIEWS_FOR_PR = """
SELECT reviewer, review_id, state, commit_id, body, submitted_at
FROM github.review_state WHERE repository = :repository AND pr_number = :number
"""

SQL_INSERT_THREAD = """
INSERT INTO github.review_threads (repository, pr_number, thread_id, is_resolved, is_outdated,
    path, line, author, body, url)
VALUES (:repository, :number, :thread_id, :is_resolved, :is_outdated, :path, :line, :author,
    :body, :url)
ON CONFLICT (repository, pr_number, thread_id) DO NOTHING
"""

SQL_SNAPSHOT_THREAD = """
INSERT INTO github.review_threads (repository, pr_number, thread_id, is_resolved, is_outdated,
    path, line, author, body, url)
VALUES (:repository, :number, :thread_id, :is_resolved, :is_outdated, :path, :line, :author,
    :body, :url)
ON CONFLICT (repository, pr_number, thread_id) DO UPDATE SET
    is_resolved = EXCLUDED.is_resolved, is_outdated = EXCLUDED.is_outdated,
    path = EXCLUDED.path, line = EXCLUDED.line, author = EXCLUDED.author,
    body = EXCLUDED.body, url = EXCLUDED.url, observed_at = now()
"""

SQL_UPSERT_COMMENT = """
INSERT INTO github.comments (repository, comment_id, pr_number, author, body, created_at)
VALUES (:repository, :comment_id, :number, :author, :body, CAST(:created_at AS timestamptz))
ON CONFLICT (repository, comment_id) DO UPDATE SET body = EXCLUDED.body
WHERE :edited
"""


@dataclass
class Touched:
    """What a webhook delivery was about: its repository, commits and pull requests."""

    repository: str | None = None
    head_shas: set[str] = field(default_factory=set)
    pr_numbers: set[int] = field(default_factory=set)
    about_commit: bool = False

    def subject(self) -> str | None:
        """The CloudEvent subject: the head SHA for check/status events, else the PR number,
        else the head SHA (None when neither is unique)."""
        if self.about_commit and len(self.head_shas) == 1:
            return next(iter(self.head_shas))
        if len(self.pr_numbers) == 1:
            return str(next(iter(self.pr_numbers)))
        if len(self.head_shas) == 1:
            return next(iter(self.head_shas))
        return None


def project_pull(tx: Tx, repository: str, pull: PullRequest) -> None:
    """Fold a pull request (REST or webhook ``pull_request``) into ``pr_state``."""
    tx.run(
        SQL_UPSERT_PULL,
        repository=repository,
        number=pull.number,
        head_sha=pull.head.sha,
        head_ref=pull.head.ref,
        base_ref=pull.base.ref,
        base_sha=pull.base.sha,
        state=pull.state,
        merged=pull.merged,
        draft=pull.draft,
        mergeable=pull.mergeable,
        mergeable_state=pull.mergeable_state,
        title=pull.title,
        html_url=pull.html_url,
        updated_at=_iso(pull.updated_at),
    )


def project_check_run(tx: Tx, repository: str, run: CheckRun) -> None:
    """Fold one check run into ``check_state`` (see the module rules)."""
    tx.run(
        SQL_UPSERT_CHECK,
        repository=repository,
        head_sha=run.head_sha,
        kind="check_run",
        name=run.name,
        app_slug=(run.app.slug if run.app and run.app.slug else ""),
        app_id=run.app.id if run.app else None,
        suite_id=run.check_suite.id if run.check_suite else None,
        external_id=str(run.id),
        status=run.status,
        conclusion=run.conclusion,
        details_url=run.details_url or run.html_url,
        updated_at=_iso(run.completed_at or run.started_at),
    )


def project_status(tx: Tx, repository: str, sha: str, status: CommitStatus) -> None:
    """Fold one commit status context into ``check_state`` as ``kind='status'``."""
    state = status.state.lower()
    tx.run(
        SQL_UPSERT_CHECK,
        repository=repository,
        head_sha=sha,
        kind="status",
        name=status.context,
        app_slug="",
        app_id=None,
        suite_id=None,
        external_id=str(status.id) if status.id is not None else None,
        status="pending" if state == "pending" else "completed",
        conclusion=None if state == "pending" else state,
        details_url=status.target_url,
        updated_at=_iso(status.updated_at or status.created_at),
    )


def project_check_suite(tx: Tx, repository: str, suite: CheckSuite) -> None:
    """Fold one check suite into ``check_suites`` (newest by its ``updated_at``)."""
    tx.run(
        SQL_UPSERT_SUITE,
        repository=repository,
        suite_id=suite.id,
        head_sha=suite.head_sha,
        app_slug=(suite.app.slug if suite.app and suite.app.slug else ""),
        app_id=suite.app.id if suite.app else None,
        status=suite.status,
        conclusion=suite.conclusion,
        check_runs_count=suite.latest_check_runs_count,
        updated_at=_iso(suite.updated_at),
    )


def suites_for_sha(tx: Tx, repository: str, sha: str) -> list[dict[str, Any]]:
    """The projected check suites of one commit (rows of ``github.check_suites``), by id."""
    return tx.all(SQL_SUITES_FOR_SHA, repository=repository, head_sha=sha)


def mark_suite_rerequested(tx: Tx, repository: str, head_sha: str, suite_id: int) -> None:
    """Record that codex-judge asked GitHub to re-run ``suite_id``: its check runs known now
    become a retry in flight (see :data:`SQL_CHECKS_FOR_SHA`)."""
    tx.run(SQL_MARK_REREQUESTED, repository=repository, head_sha=head_sha, suite_id=suite_id)


def checks_for_sha(tx: Tx, repository: str, sha: str) -> list[CheckSummary]:
    """Every projected check of one commit, newest per (kind, name, app); a check run of a
    re-requested attempt of its suite reads as ``requested``."""
    return [
        CheckSummary(
            name=r["name"],
            kind=r["kind"],
            app=r["app_slug"] or None,
            app_id=r["app_id"],
            status=r["status"],
            conclusion=r["conclusion"],
            details_url=r["details_url"],
        )
        for r in tx.all(SQL_CHECKS_FOR_SHA, repository=repository, head_sha=sha)
    ]


def project_review(tx: Tx, repository: str, number: int, review: Review) -> None:
    """Fold a review into ``review_state`` (state stored upper-case, as REST sends it)."""
    if review.user is None:
        return
    tx.run(
        SQL_UPSERT_REVIEW,
        repository=repository,
        number=number,
        reviewer=review.user.login,
        review_id=str(review.id),
        state=review.state.upper(),
        commit_id=review.commit_id,
        body=review.body,
        submitted_at=_iso(review.submitted_at),
    )


def reviews_for_pr(tx: Tx, repository: str, number: int) -> list[Review]:
    """Each reviewer's latest projected review of one PR."""
    return [
        Review(
            id=int(r["review_id"]),
            user=User(login=r["reviewer"]),
            state=r["state"],
            commit_id=r["commit_id"],
            body=r["body"],
            submitted_at=r["submitted_at"],
        )
        for r in tx.all(SQL_REVIEWS_FOR_PR, repository=repository, number=number)
    ]


def snapshot_threads(tx: Tx, repository: str, number: int, threads: Iterable[ReviewThread]) -> None:
    """Store a GraphQL snapshot of a PR's review threads (replaces those threads' rows)."""
    for thread in threads:
        tx.run(SQL_SNAPSHOT_THREAD, **_thread_params(repository, number, thread))


def _thread_params(repository: str, number: int, thread: ReviewThread) -> dict[str, Any]:
    first = thread.comments[0] if thread.comments else ReviewComment()
    return {
        "repository": repository,
        "number": number,
        "thread_id": thread.id,
        "is_resolved": thread.is_resolved,
        "is_outdated": thread.is_outdated,
        "path": thread.path,
        "line": thread.line,
        "author": first.author,
        "body": first.body,
        "url": first.url,
    }


def project_webhook(tx: Tx, event: str, payload: Mapping[str, Any]) -> Touched:
    """Fold one webhook delivery (``X-GitHub-Event`` = ``event``) into the projections.

    Unknown events are stored by the caller but project nothing.

    Raises:
        InvalidDataError: an object the event carries fails its GitHub model; ``field`` names
            the path (``check_run.head_sha``).
    """
    repo = _repository(payload)
    touched = Touched(
        repository=repo,
        about_commit=event in ("check_run", "check_suite", "status", "workflow_run"),
    )
    if not repo:
        return touched
    action = payload.get("action")
    if event == "pull_request" and isinstance(payload.get("pull_request"), dict):
        pull = parse_model(PullRequest, payload["pull_request"], root="pull_request")
        project_pull(tx, repo, pull)
        touched.pr_numbers.add(pull.number)
        touched.head_shas.add(pull.head.sha)
    elif event == "check_run" and isinstance(payload.get("check_run"), dict):
        run = parse_model(CheckRun, payload["check_run"], root="check_run")
        project_check_run(tx, repo, run)
        touched.head_shas.add(run.head_sha)
        touched.pr_numbers.update(_pr_numbers(payload["check_run"]))
    elif event == "check_suite" and isinstance(payload.get("check_suite"), dict):
        suite = parse_model(CheckSuite, payload["check_suite"], root="check_suite")
        project_check_suite(tx, repo, suite)
        touched.head_shas.add(suite.head_sha)
        touched.pr_numbers.update(_pr_numbers(payload["check_suite"]))
    elif event == "workflow_run" and isinstance(payload.get(event), dict):
        body = payload[event]
        if body.get("head_sha"):
            touched.head_shas.add(body["head_sha"])
        touched.pr_numbers.update(_pr_numbers(body))
    elif event == "status" and payload.get("sha") and payload.get("context"):
        project_status(tx, repo, payload["sha"], parse_model(CommitStatus, payload, root="payload"))
        touched.head_shas.add(payload["sha"])
    elif event == "pull_request_review" and isinstance(payload.get("review"), dict):
        number = _pr_number(payload, "pull_request")
        review = dict(payload["review"])
        if action == "dismissed":
            review["state"] = "dismissed"
        project_review(tx, repo, number, parse_model(Review, review, root="review"))
        touched.pr_numbers.add(number)
    elif event == "pull_request_review_thread" and isinstance(payload.get("thread"), dict):
        number = _pr_number(payload, "pull_request")
        tx.run(SQL_INSERT_THREAD, **_thread_params(repo, number, _webhook_thread(payload)))
        touched.pr_numbers.add(number)
    elif event in ("issue_comment", "pull_request_review_comment"):
        _project_comment(tx, repo, event, payload, touched)
    return touched


def _repository(payload: Mapping[str, Any]) -> str | None:
    """``repository.full_name``, or None when the delivery names no repository.

    Raises:
        InvalidDataError: ``repository`` is not an object or its ``full_name`` not a string.
    """
    repo = payload.get("repository")
    if repo is None:
        return None
    if not isinstance(repo, dict):
        raise InvalidDataError(
            f"repository must be an object, got {type(repo).__name__}", field="repository"
        )
    name = repo.get("full_name")
    if name is not None and not isinstance(name, str):
        raise InvalidDataError(
            f"repository.full_name must be a string (owner/name), got {type(name).__name__}",
            field="repository.full_name",
        )
    return name or None


def _pr_number(payload: Mapping[str, Any], member: str) -> int:
    """``<member>.number``: the PR a review, review thread or comment is about.

    Raises:
        InvalidDataError: ``member`` is not an object or its ``number`` not an integer.
    """
    pull = payload.get(member)
    number = pull.get("number") if isinstance(pull, dict) else None
    if not isinstance(number, int) or isinstance(number, bool):
        raise InvalidDataError(
            f"{member}.number must be an integer, got {type(number).__name__}",
            field=f"{member}.number",
        )
    return number


def _webhook_thread(payload: Mapping[str, Any]) -> ReviewThread:
    thread = payload["thread"]
    comments = thread.get("comments") or []
    first = comments[0] if comments else {}
    return ReviewThread.model_validate(
        {
            "id": thread.get("node_id") or str(first.get("id")),
            "isResolved": payload.get("action") == "resolved",
            "isOutdated": False,
            "path": first.get("path"),
            "line": first.get("line"),
            "comments": [
                {
                    "author": (c.get("user") or {}).get("login"),
                    "body": c.get("body") or "",
                    "url": c.get("html_url"),
                }
                for c in comments
            ],
        }
    )


def _project_comment(
    tx: Tx, repo: str, event: str, payload: Mapping[str, Any], touched: Touched
) -> None:
    comment = payload.get("comment")
    if not isinstance(comment, dict):
        return
    if event == "issue_comment":
        issue = payload.get("issue")
        if not isinstance(issue, dict) or "pull_request" not in issue:
            return  # a comment on a plain issue is not about a PR
        number = _pr_number(payload, "issue")
    else:
        number = _pr_number(payload, "pull_request")
    tx.run(
        SQL_UPSERT_COMMENT,
        repository=repo,
        comment_id=str(comment["id"]),
        number=number,
        author=(comment.get("user") or {}).get("login"),
        body=comment.get("body"),
        created_at=comment.get("created_at"),
        edited=payload.get("action") == "edited",
    )
    touched.pr_numbers.add(number)


def _pr_numbers(body: Mapping[str, Any]) -> set[int]:
    return {int(p["number"]) for p in body.get("pull_requests") or [] if p.get("number")}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def dumps(value: Any) -> str:
    """JSON for a ``CAST(:x AS jsonb)`` parameter."""
    return json.dumps(value, default=str)
