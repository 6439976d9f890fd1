"""The AI-review verdict at the head SHA (DESIGN §12 item 5).

Rules, each fixing a failure of the reference:

* only reviews by the policy's AI reviewer logins count; a human's review or comment never
  counts as the AI review, even from a listed organisation;
* only reviews of the run's **head SHA** count (``commit_id``), and of those only each
  reviewer's **latest** (by ``submitted_at``, then review id): an old "changes requested"
  never blocks a newer commit or a newer review; ``PENDING`` (unsubmitted) and ``DISMISSED``
  reviews count as no review;
* review threads opened by an AI reviewer block while unresolved, unless GitHub marks them
  outdated (the code they commented on changed);
* no AI review at the head yet → **pending**, unless the policy does not require one
  (→ ``not_required`` when nothing blocks).

Review states: GitHub REST sends APPROVED|CHANGES_REQUESTED|COMMENTED|DISMISSED|PENDING,
webhooks send them lower-case; both are accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from shared.models.events import ThreadSummary
from shared.models.github import Review, ReviewThread
from shared.policy import Policy

ReviewState = Literal[
    "approved", "changes_requested", "unresolved_threads", "commented", "not_required", "pending"
]
_NOT_A_REVIEW = frozenset({"PENDING", "DISMISSED"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReviewResult:
    """The verdict with its evidence.

    Attributes:
        verdict: approved | changes_requested | unresolved_threads | commented | not_required |
            pending.
        reviewers: AI reviewers whose latest review at the head SHA counted (sorted).
        unresolved: blocking AI threads in a stable order (path, line, thread id).
        next_prompt: what the next attempt must address; None when nothing blocks.
    """

    verdict: ReviewState
    reviewers: list[str] = field(default_factory=list)
    unresolved: list[ThreadSummary] = field(default_factory=list)
    next_prompt: str | None = None

    @property
    def final(self) -> bool:
        """Whether the verdict is concluded (anything but pending)."""
        return self.verdict != "pending"

    @property
    def blocks(self) -> bool:
        """Whether the verdict sends the run back for another attempt."""
        return self.verdict in ("changes_requested", "unresolved_threads")

    def summary(self) -> dict[str, object]:
        """A JSON-friendly summary for ``runs.review_summary`` and evaluation inputs."""
        return {
            "verdict": self.verdict,
            "reviewers": self.reviewers,
            "unresolved_threads": [t.model_dump(mode="json") for t in self.unresolved],
            "next_prompt": self.next_prompt,
        }


def latest_ai_reviews(reviews: Iterable[Review], head_sha: str, policy: Policy) -> list[Review]:
    """Each AI reviewer's latest submitted review of ``head_sha`` (sorted by login)."""
    latest: dict[str, Review] = {}
    for review in reviews:
        login = review.user.login if review.user else None
        if not login or not policy.is_ai_reviewer(login) or review.commit_id != head_sha:
            continue
        if review.state.upper() == "PENDING":
            continue
        key = login.lower()
        current = latest.get(key)
        if current is None or _order(review) > _order(current):
            latest[key] = review
    return [latest[key] for key in sorted(latest) if latest[key].state.upper() not in _NOT_A_REVIEW]


def _order(review: Review) -> tuple[datetime, int]:
    return (review.submitted_at or _EPOCH, review.id)


def blocking_threads(threads: Iterable[ReviewThread], policy: Policy) -> list[ThreadSummary]:
    """Unresolved, current (not outdated) threads opened by an AI reviewer, in stable order."""
    out: list[ThreadSummary] = []
    for thread in threads:
        if thread.is_resolved or thread.is_outdated or not thread.comments:
            continue
        first = thread.comments[0]
        if not policy.is_ai_reviewer(first.author):
            continue
        out.append(
            ThreadSummary(
                thread_id=thread.id,
                path=thread.path,
                line=thread.line,
                author=first.author,
                body=first.body.strip(),
                url=first.url,
            )
        )
    return sorted(out, key=lambda t: (t.path or "", t.line or 0, t.thread_id))


def review_verdict(
    reviews: Iterable[Review], threads: Iterable[ReviewThread], head_sha: str, policy: Policy
) -> ReviewResult:
    """Compute the AI-review verdict of a pull request at ``head_sha`` (40 hex)."""
    counted = latest_ai_reviews(reviews, head_sha, policy)
    reviewers = sorted(r.user.login for r in counted if r.user)
    unresolved = blocking_threads(threads, policy)
    if not counted and policy.require_ai_review:
        return ReviewResult("pending", [], unresolved)
    if unresolved:
        return ReviewResult("unresolved_threads", reviewers, unresolved, threads_prompt(unresolved))
    requested = [r for r in counted if r.state.upper() == "CHANGES_REQUESTED"]
    if requested:
        return ReviewResult("changes_requested", reviewers, [], changes_prompt(requested))
    if not counted:
        return ReviewResult("not_required")
    if any(r.state.upper() == "APPROVED" for r in counted):
        return ReviewResult("approved", reviewers)
    return ReviewResult("commented", reviewers)


def threads_prompt(threads: list[ThreadSummary]) -> str:
    """The next prompt listing each unresolved thread as ``path:line (author): comment``."""
    lines = ["Address these unresolved review threads, then resolve each one:"]
    for t in threads:
        where = f"{t.path}:{t.line}" if t.line is not None else (t.path or "(general)")
        lines.append(f"- {where} ({t.author}): {t.body}" + (f" [{t.url}]" if t.url else ""))
    return "\n".join(lines)


def changes_prompt(reviews: list[Review]) -> str:
    """The next prompt for a changes-requested review: each reviewer's review body."""
    lines = ["The AI reviewer requested changes:"]
    for r in reviews:
        login = r.user.login if r.user else "unknown"
        lines.append(f"- {login}: {(r.body or '').strip() or '(no summary given)'}")
    return "\n".join(lines)
