"""The AI-review verdict at the head SHA (DESIGN §12 item 5; issue 3 "Review gate").

Rules, each fixing a failure of the reference:

* only reviews by the policy's AI reviewer logins count as the AI review; a human's review,
  and any plain comment (issue comment or review comment) by anyone — a listed login
  included — never counts as the AI review finishing: only a *submitted review* does;
* only reviews of the run's **head SHA** count (``commit_id``): a review of an older commit
  says nothing about this one;
* of those, only each reviewer's **latest** (by ``submitted_at``, then review id). A
  ``CHANGES_REQUESTED`` followed by any newer review is *superseded* and no longer blocks;
  a ``DISMISSED`` review never blocks — when a reviewer's latest review was dismissed, their
  newest earlier approval or comment at the head still stands, an earlier "changes requested"
  does not (GitHub REST "Reviews": a dismissed review keeps its place in the list with state
  ``DISMISSED``). ``PENDING`` (unsubmitted) reviews are ignored;
* review threads opened by an AI reviewer block while unresolved; an **outdated** thread
  (GraphQL ``isOutdated``: the lines it commented on changed) blocks only when
  ``policy.outdated_threads_block``; threads opened by humans never block the AI verdict;
* ``policy.require_human_approval``: besides the AI review, a human (any reviewer not listed as
  an AI reviewer) must have approved the head SHA, and no human's latest review may request
  changes; until then the verdict stays pending, waiting for ``human_approval``;
* no AI review at the head yet → **pending** (waiting for ``ai_review``), unless the policy
  does not require one (→ ``not_required`` when nothing blocks);
* the next prompt lists **every** blocking thread (``path:line (author): full comment``) and
  every "changes requested" summary, in a stable order (path, line, thread id; reviewer login).

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
from shared.policy.model import Policy

ReviewState = Literal[
    "approved", "changes_requested", "unresolved_threads", "commented", "not_required", "pending"
]
#: Why a pending verdict waits: the AI review at the head, or a human approval.
WAITING_AI_REVIEW = "ai_review"
WAITING_HUMAN_APPROVAL = "human_approval"
REVIEW_TIMEOUT = "review_timeout"
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
        waiting_for: for a pending verdict, what is missing (``ai_review``,
            ``human_approval``); empty otherwise.
        human_approvers: humans whose latest review approved the head SHA (sorted).
    """

    verdict: ReviewState
    reviewers: list[str] = field(default_factory=list)
    unresolved: list[ThreadSummary] = field(default_factory=list)
    next_prompt: str | None = None
    waiting_for: list[str] = field(default_factory=list)
    human_approvers: list[str] = field(default_factory=list)

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
            "waiting_for": self.waiting_for,
            "human_approvers": self.human_approvers,
        }


def _login(review: Review) -> str | None:
    return review.user.login if review.user else None


def _order(review: Review) -> tuple[datetime, int]:
    return (review.submitted_at or _EPOCH, review.id)


def _standing(history: list[Review]) -> Review | None:
    """A reviewer's standing review from their submitted reviews of one commit (any order)."""
    ordered = sorted(history, key=_order)
    latest = ordered[-1]
    if latest.state.upper() != "DISMISSED":
        return latest
    # A dismissed latest review: an earlier approval/comment stands, an earlier "changes
    # requested" is superseded by the (dismissed) newer review and no longer blocks.
    for review in reversed(ordered[:-1]):
        state = review.state.upper()
        if state in ("APPROVED", "COMMENTED"):
            return review
    return None


def _standing_by_login(
    reviews: Iterable[Review], head_sha: str, keep: bool, policy: Policy
) -> dict[str, Review]:
    """Standing review per login (lower-case) at ``head_sha``; AI logins when ``keep`` is
    True, human logins otherwise."""
    histories: dict[str, list[Review]] = {}
    for review in reviews:
        login = _login(review)
        if not login or policy.is_ai_reviewer(login) != keep or review.commit_id != head_sha:
            continue
        if review.state.upper() == "PENDING":
            continue
        histories.setdefault(login.lower(), []).append(review)
    standing = {key: _standing(history) for key, history in histories.items()}
    return {key: review for key, review in sorted(standing.items()) if review is not None}


def latest_ai_reviews(reviews: Iterable[Review], head_sha: str, policy: Policy) -> list[Review]:
    """Each AI reviewer's standing review of ``head_sha`` (see the module rules), by login."""
    return list(_standing_by_login(reviews, head_sha, True, policy).values())


def _human_gate(reviews: list[Review], head_sha: str, policy: Policy) -> tuple[bool, list[str]]:
    """(whether the human-approval rule is met, approvers at the head)."""
    standing = _standing_by_login(reviews, head_sha, False, policy)
    approvers = sorted(_login(r) or "" for r in standing.values() if r.state.upper() == "APPROVED")
    # A human's "changes requested" on any commit stands until they review again.
    anywhere: dict[str, Review] = {}
    for review in reviews:
        login = _login(review)
        if not login or policy.is_ai_reviewer(login) or review.state.upper() == "PENDING":
            continue
        current = anywhere.get(login.lower())
        if current is None or _order(review) > _order(current):
            anywhere[login.lower()] = review
    objecting = any(r.state.upper() == "CHANGES_REQUESTED" for r in anywhere.values())
    return bool(approvers) and not objecting, approvers


def blocking_threads(threads: Iterable[ReviewThread], policy: Policy) -> list[ThreadSummary]:
    """Unresolved threads opened by an AI reviewer (outdated ones only when the policy says
    so), in stable order (path, line, thread id)."""
    out: list[ThreadSummary] = []
    for thread in threads:
        if thread.is_resolved or not thread.comments:
            continue
        if thread.is_outdated and not policy.outdated_threads_block:
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
    all_reviews = list(reviews)
    counted = latest_ai_reviews(all_reviews, head_sha, policy)
    reviewers = sorted(_login(r) or "" for r in counted)
    unresolved = blocking_threads(threads, policy)
    requested = [r for r in counted if r.state.upper() == "CHANGES_REQUESTED"]
    waiting: list[str] = []
    if not counted and policy.require_ai_review:
        waiting.append(WAITING_AI_REVIEW)
    human_ok, approvers = True, list[str]()
    if policy.require_human_approval:
        human_ok, approvers = _human_gate(all_reviews, head_sha, policy)
    if unresolved or requested:
        # Blocking findings decide at once: the next attempt must address them either way.
        verdict: ReviewState = "unresolved_threads" if unresolved else "changes_requested"
        prompt = review_prompt(unresolved, requested)
        return ReviewResult(verdict, reviewers, unresolved, prompt, [], approvers)
    if not human_ok:
        waiting.append(WAITING_HUMAN_APPROVAL)
    if waiting:
        return ReviewResult("pending", reviewers, [], None, waiting, approvers)
    if not counted:
        return ReviewResult("not_required", [], [], None, [], approvers)
    if any(r.state.upper() == "APPROVED" for r in counted):
        return ReviewResult("approved", reviewers, [], None, [], approvers)
    return ReviewResult("commented", reviewers, [], None, [], approvers)


def review_prompt(threads: list[ThreadSummary], requested: list[Review]) -> str:
    """The next prompt: every blocking thread, then every changes-requested summary."""
    parts: list[str] = []
    if threads:
        parts.append(threads_prompt(threads))
    if requested:
        parts.append(changes_prompt(requested))
    return "\n\n".join(parts)


def threads_prompt(threads: list[ThreadSummary]) -> str:
    """The next prompt listing each unresolved thread as ``path:line (author): comment``."""
    lines = ["Address these unresolved review threads, then resolve each one:"]
    for t in threads:
        where = f"{t.path}:{t.line}" if t.line is not None else (t.path or "(general)")
        lines.append(f"- {where} ({t.author}): {t.body}" + (f" [{t.url}]" if t.url else ""))
    return "\n".join(lines)


def changes_prompt(reviews: list[Review]) -> str:
    """The next prompt for changes-requested reviews: each reviewer's review body, by login."""
    lines = ["The AI reviewer requested changes:"]
    for r in sorted(reviews, key=lambda r: ((_login(r) or "").lower(), r.id)):
        lines.append(
            f"- {_login(r) or 'unknown'}: {(r.body or '').strip() or '(no summary given)'}"
        )
    return "\n".join(lines)


def timed_out_summary(result: ReviewResult, policy: Policy, waited_s: int) -> dict[str, object]:
    """The stored summary of a review that timed out (reason ``review_timeout``).

    Args:
        result: the last (pending) verdict, re-read from GitHub at the deadline.
        policy: names the AI reviewers the run waited for.
        waited_s: the policy's ``review_timeout_s``.
    """
    missing = list(result.waiting_for) or [WAITING_AI_REVIEW]
    detail = []
    if WAITING_AI_REVIEW in missing:
        who = ", ".join(policy.ai_reviewer_logins) or "an AI reviewer"
        detail.append(f"no review at the head SHA from {who}")
    if WAITING_HUMAN_APPROVAL in missing:
        detail.append("no human approval of the head SHA")
    return {
        "verdict": "timed_out",
        "reason": REVIEW_TIMEOUT,
        "message": f"review timed out after {waited_s} s: " + "; ".join(detail),
        "reviewers": result.reviewers,
        "unresolved_threads": [],
        "next_prompt": None,
        "waiting_for": missing,
        "human_approvers": result.human_approvers,
    }
