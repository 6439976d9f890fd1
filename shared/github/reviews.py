"""The ``github.review_state``, ``github.review_threads`` and ``github.comments`` projections
(DESIGN §5).

* ``review_state``: each reviewer's latest review per PR by (``submitted_at``, review id); the
  same review may move on (submitted → dismissed) but never back.
* ``review_threads``: GitHub sends no timestamp for resolving a thread, so a webhook only
  inserts a thread not seen yet (:func:`insert_thread`); a GraphQL snapshot (read now, so newer
  than any delivery) replaces the rows of its threads (:func:`snapshot_threads`).
* ``comments``: inserted once; an ``edited`` delivery refreshes the body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.db import Tx
from shared.github import iso
from shared.models.github import Review, ReviewComment, ReviewThread, User

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
        submitted_at=iso(review.submitted_at),
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


def insert_thread(tx: Tx, repository: str, number: int, thread: ReviewThread) -> None:
    """Insert a thread a webhook reported, unless its row exists (a webhook carries no
    timestamp for resolving, so it never replaces a row)."""
    tx.run(SQL_INSERT_THREAD, **_thread_params(repository, number, thread))


def project_comment(
    tx: Tx, repository: str, number: int, comment: Mapping[str, Any], *, edited: bool
) -> None:
    """Fold one comment on PR ``number`` into ``comments``.

    Args:
        comment: the webhook's ``comment`` object (``id``, ``user.login``, ``body``,
            ``created_at`` as ISO 8601).
        edited: the delivery's action is ``edited``: refresh the stored body.
    """
    tx.run(
        SQL_UPSERT_COMMENT,
        repository=repository,
        comment_id=str(comment["id"]),
        number=number,
        author=(comment.get("user") or {}).get("login"),
        body=comment.get("body"),
        created_at=comment.get("created_at"),
        edited=edited,
    )


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
