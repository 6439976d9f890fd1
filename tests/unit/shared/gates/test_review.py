"""The AI-review rules (DESIGN §12 item 5)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.gates.review import review_verdict
from shared.models.github import Review, ReviewComment, ReviewThread, User
from shared.policy.model import Policy

HEAD = "a" * 40
OLD = "b" * 40
BOT = "chatgpt-codex-connector[bot]"
POLICY = Policy(ai_reviewer_logins=[BOT])


def _review(rid: int, login: str, state: str, sha: str = HEAD, minute: int = 0) -> Review:
    return Review(
        id=rid,
        user=User(login=login),
        state=state,
        commit_id=sha,
        submitted_at=datetime(2025, 1, 1, 12, minute, tzinfo=UTC),
    )


def _thread(
    tid: str,
    author: str,
    *,
    resolved: bool = False,
    outdated: bool = False,
    path: str = "app.py",
    line: int = 3,
) -> ReviewThread:
    return ReviewThread.model_validate(
        {
            "id": tid,
            "isResolved": resolved,
            "isOutdated": outdated,
            "path": path,
            "line": line,
            "comments": [ReviewComment(author=author, body=f"fix {tid}", url=f"https://x/{tid}")],
        }
    )


def test_no_ai_review_at_head_is_pending() -> None:
    old = _review(1, BOT, "APPROVED", sha=OLD)
    assert review_verdict([old], [], HEAD, POLICY).verdict == "pending"


def test_latest_ai_review_wins_over_an_older_changes_requested() -> None:
    reviews = [
        _review(1, BOT, "CHANGES_REQUESTED", minute=1),
        _review(2, BOT, "APPROVED", minute=5),
    ]
    result = review_verdict(reviews, [], HEAD, POLICY)
    assert result.verdict == "approved" and result.reviewers == [BOT]


def test_human_review_never_counts_as_the_ai_review() -> None:
    assert (
        review_verdict([_review(1, "octocat", "APPROVED")], [], HEAD, POLICY).verdict == "pending"
    )


def test_outdated_and_human_threads_do_not_block() -> None:
    threads = [
        _thread("T1", BOT, outdated=True),
        _thread("T2", "octocat"),
        _thread("T3", BOT, resolved=True),
    ]
    assert (
        review_verdict([_review(1, BOT, "COMMENTED")], threads, HEAD, POLICY).verdict == "commented"
    )


def test_unresolved_ai_threads_become_a_prompt_in_stable_order() -> None:
    threads = [_thread("T9", BOT, path="b.py", line=2), _thread("T1", BOT, path="a.py", line=7)]
    result = review_verdict([_review(1, BOT, "COMMENTED")], threads, HEAD, POLICY)
    assert result.verdict == "unresolved_threads"
    assert [t.thread_id for t in result.unresolved] == ["T1", "T9"]
    assert result.next_prompt is not None
    lines = result.next_prompt.splitlines()[1:]
    assert lines[0].startswith(f"- a.py:7 ({BOT}): fix T1")
    assert lines[1].startswith(f"- b.py:2 ({BOT}): fix T9")


def test_review_not_required_concludes_without_one() -> None:
    policy = Policy(ai_reviewer_logins=[BOT], require_ai_review=False)
    assert review_verdict([], [], HEAD, policy).verdict == "not_required"


def test_a_dismissed_changes_requested_no_longer_blocks_and_an_earlier_approval_stands() -> None:
    reviews = [
        _review(1, BOT, "APPROVED", minute=1),
        _review(2, BOT, "CHANGES_REQUESTED", minute=2),
    ]
    dismissed = [reviews[0], _review(2, BOT, "DISMISSED", minute=2)]
    assert review_verdict(reviews, [], HEAD, POLICY).verdict == "changes_requested"
    assert review_verdict(dismissed, [], HEAD, POLICY).verdict == "approved"


def test_a_dismissed_only_review_leaves_the_ai_review_pending() -> None:
    result = review_verdict([_review(1, BOT, "DISMISSED")], [], HEAD, POLICY)
    assert result.verdict == "pending" and result.waiting_for == ["ai_review"]


def test_outdated_threads_block_only_when_the_policy_says_so() -> None:
    threads = [_thread("T1", BOT, outdated=True)]
    strict = Policy(ai_reviewer_logins=[BOT], outdated_threads_block=True)
    reviews = [_review(1, BOT, "COMMENTED")]
    assert review_verdict(reviews, threads, HEAD, POLICY).verdict == "commented"
    result = review_verdict(reviews, threads, HEAD, strict)
    assert result.verdict == "unresolved_threads" and result.unresolved[0].thread_id == "T1"


def test_a_review_by_a_listed_login_on_an_older_commit_does_not_count() -> None:
    result = review_verdict([_review(1, BOT, "APPROVED", sha=OLD)], [], HEAD, POLICY)
    assert result.verdict == "pending"


def test_human_approval_is_waited_for_when_required() -> None:
    policy = Policy(ai_reviewer_logins=[BOT], require_human_approval=True)
    ai = _review(1, BOT, "APPROVED", minute=1)
    waiting = review_verdict([ai], [], HEAD, policy)
    assert waiting.verdict == "pending" and waiting.waiting_for == ["human_approval"]
    stale = _review(2, "octocat", "APPROVED", sha=OLD, minute=2)
    assert review_verdict([ai, stale], [], HEAD, policy).verdict == "pending"
    human = _review(3, "octocat", "APPROVED", minute=3)
    result = review_verdict([ai, human], [], HEAD, policy)
    assert result.verdict == "approved" and result.human_approvers == ["octocat"]
    objection = _review(4, "lavalamp", "CHANGES_REQUESTED", sha=OLD, minute=4)
    assert review_verdict([ai, human, objection], [], HEAD, policy).verdict == "pending"


def test_the_prompt_lists_every_thread_and_every_changes_requested_summary_in_order() -> None:
    other = "reviewer-two[bot]"
    policy = Policy(ai_reviewer_logins=[BOT, other])
    reviews = [
        _review(1, other, "CHANGES_REQUESTED", minute=1).model_copy(update={"body": "Add tests."}),
        _review(2, BOT, "CHANGES_REQUESTED", minute=2).model_copy(update={"body": "Fix the bug."}),
    ]
    threads = [_thread("T2", BOT, path="b.py", line=1), _thread("T1", other, path="a.py", line=9)]
    result = review_verdict(reviews, threads, HEAD, policy)
    assert result.verdict == "unresolved_threads"
    assert result.next_prompt is not None
    lines = result.next_prompt.splitlines()
    assert lines[1].startswith(f"- a.py:9 ({other}): fix T1")
    assert lines[2].startswith(f"- b.py:1 ({BOT}): fix T2")
    assert lines[-2:] == [f"- {BOT}: Fix the bug.", f"- {other}: Add tests."]
    assert (
        result.next_prompt
        == review_verdict(
            list(reversed(reviews)), list(reversed(threads)), HEAD, policy
        ).next_prompt
    )
