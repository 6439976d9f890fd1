"""One webhook delivery folded into the GitHub projections, routed by its ``X-GitHub-Event``
to :mod:`shared.github.pulls`, :mod:`shared.github.checks` and :mod:`shared.github.reviews`
(DESIGN §5); :class:`Touched` says which repository, commits and pull requests it was about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.db import Tx
from shared.errors import InvalidDataError
from shared.github.checks import project_check_run, project_check_suite, project_status
from shared.github.pulls import project_pull
from shared.github.reviews import insert_thread, project_comment, project_review
from shared.models.github import (
    CheckRun,
    CheckSuite,
    CommitStatus,
    PullRequest,
    Review,
    ReviewThread,
)
from shared.runtime.envelope import parse_model


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


def webhook_event(event_type: str) -> str:
    """The ``X-GitHub-Event`` of a relayed delivery's CloudEvent type (``com.github.<event>``
    or ``com.github.<event>.<action>``): ``com.github.check_run.completed`` → ``check_run``,
    ``com.github.status`` → ``status``."""
    return event_type.removeprefix("com.github.").split(".", 1)[0]


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
        insert_thread(tx, repo, number, _webhook_thread(payload))
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
    project_comment(tx, repo, number, comment, edited=payload.get("action") == "edited")
    touched.pr_numbers.add(number)


def _pr_numbers(body: Mapping[str, Any]) -> set[int]:
    return {int(p["number"]) for p in body.get("pull_requests") or [] if p.get("number")}
