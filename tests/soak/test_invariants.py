"""The soak's own checks on hand-made observations: the per-repository summary compared with
a fault-free run, and the one named Discord limitation (no soak mesh started here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.soak.harness import SoakReport, _missing_notice_evidence, _webhook_double_posts
from tests.soak.invariants import (
    Observed,
    compare_final_states,
    final_summary,
    one_discord_message_per_run_kind,
)
from tests.soak.scenarios import SoakRepo

REPO = SoakRepo(0, "merge_deploy", "soak/r0000-merge-deploy", 2, 1000, "uid-0")
OTHER = SoakRepo(1, "ci_timeout", "soak/r0001-ci-timeout", 2, 1001, "uid-1")


def _run(run_id: int, repo: SoakRepo, status: str, reason: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "workflow_uid": repo.workflow_uid,
        "repository": repo.repository,
        "issue_number": repo.issue_number,
        "attempt": 1,
        "status": status,
        "reason": reason,
        "active": False,
    }


def _observed(messages: list[str], merges: int = 1) -> Observed:
    fakes = {
        "github": {"merges": [{"repository": REPO.repository, "number": 2}] * merges},
        "discord": {"messages": [{"content": c} for c in messages]},
    }
    runs = [
        _run(7, REPO, "completed", "deploy_verified"),
        _run(8, OTHER, "needs_iteration", "ci_timeout"),
    ]
    return Observed(runs, [], [], {}, fakes)


def test_summaries_name_each_differing_field_per_repository() -> None:
    clean = final_summary(_observed(["**codex-judge ✅ MERGED** run 7"]), [REPO, OTHER])
    assert clean[REPO.repository] == {
        "runs": 1,
        "last": "completed/deploy_verified",
        "merges": 1,
        "reverts": 0,
        "notices": ["codex-judge ✅ MERGED x1"],
    }
    faulted = final_summary(
        _observed(["**codex-judge ✅ MERGED** run 7"] * 2, merges=2), [REPO, OTHER]
    )
    assert compare_final_states(clean, clean) == []
    assert compare_final_states(faulted, clean) == [
        f"{REPO.repository}: merges 2 vs fault-free 1; notices ['codex-judge ✅ MERGED x2'] vs"
        " fault-free ['codex-judge ✅ MERGED x1']"
    ]


def test_only_a_double_post_just_before_the_discord_function_lost_its_work_is_named() -> None:
    merged, timeout = "**codex-judge ✅ MERGED** run 7", "**codex-judge ⏱ CI TIMEOUT** run 8"
    messages = [
        {"content": merged, "timestamp": "2026-01-01T00:00:10+00:00"},
        {"content": merged, "timestamp": "2026-01-01T00:01:15+00:00"},
        {"content": timeout, "timestamp": "2026-01-01T00:00:30+00:00"},
        {"content": timeout, "timestamp": "2026-01-01T00:01:35+00:00"},
    ]
    observed = Observed([], [], [], {}, {"discord": {"messages": messages}})
    violations = {
        "one_discord_message_per_run_kind": one_discord_message_per_run_kind(observed, [])
    }
    killed_at = datetime(2026, 1, 1, 0, 0, 12, tzinfo=UTC).timestamp()  # 2 s after the post
    lines, keys = _webhook_double_posts(violations, messages, [(killed_at, killed_at)])
    assert keys == {("7", "codex-judge ✅ MERGED"): 1}
    assert lines == [
        "Discord notice run 7 'codex-judge ✅ MERGED': 2 times (the discord function lost its"
        " work right after Discord answered; webhook mode has no idempotency key)"
    ]
    assert violations["one_discord_message_per_run_kind"] == [
        "Discord notice run 8 'codex-judge ⏱ CI TIMEOUT': 2 times (posted at 00:00:30.000,"
        " 00:01:35.000 UTC; the discord function never lost its work after the first post)"
    ]


def test_a_named_double_post_is_not_counted_again_as_a_difference() -> None:
    clean = final_summary(_observed(["**codex-judge ✅ MERGED** run 7"]), [REPO, OTHER])
    doubled = _observed(["**codex-judge ✅ MERGED** run 7"] * 2)
    named = {("7", "codex-judge ✅ MERGED"): 1}
    assert compare_final_states(final_summary(doubled, [REPO, OTHER]), clean) != []
    summary = final_summary(doubled, [REPO, OTHER], named_double_posts=named)
    assert compare_final_states(summary, clean) == []
    tripled = _observed(["**codex-judge ✅ MERGED** run 7"] * 3)
    twice = {("7", "codex-judge ✅ MERGED"): 2}
    assert (
        compare_final_states(final_summary(tripled, [REPO, OTHER], named_double_posts=twice), clean)
        == []
    )


def test_a_third_post_is_named_only_when_the_repost_was_lost_too() -> None:
    """The soak's seeds 1 and 2: a notice posted three times, each of the first two posts
    followed by a kill of the discord function (a repost can meet the next crash)."""
    merged = "**codex-judge ✅ MERGED** run 7"
    messages = [
        {"content": merged, "timestamp": "2026-01-01T00:00:10+00:00"},
        {"content": merged, "timestamp": "2026-01-01T00:01:30+00:00"},
        {"content": merged, "timestamp": "2026-01-01T00:02:50+00:00"},
    ]
    observed = Observed([], [], [], {}, {"discord": {"messages": messages}})
    first_kill = datetime(2026, 1, 1, 0, 0, 12, tzinfo=UTC).timestamp()
    second_kill = datetime(2026, 1, 1, 0, 1, 31, tzinfo=UTC).timestamp()
    for kills, named in (
        ([first_kill, second_kill], {("7", "codex-judge ✅ MERGED"): 2}),
        ([first_kill], {}),
    ):
        violations = {
            "one_discord_message_per_run_kind": one_discord_message_per_run_kind(observed, [])
        }
        lines, keys = _webhook_double_posts(violations, messages, [(k, k) for k in kills])
        assert keys == named
        assert len(lines) == len(named)  # named, or still a violation
        assert len(violations["one_discord_message_per_run_kind"]) == 1 - len(named)


def test_a_repository_missing_a_notice_gets_its_needs_human_runs_discord_effects_as_evidence() -> (
    None
):
    report = SoakReport(
        stats={},
        violations={},
        run_ids={"soak/r1": [4], "soak/r2": [5]},
        notice_effects=[
            {
                "run_id": 4,
                "idempotency_key": None,
                "state": None,
                "attempts": None,
                "failures": None,
                "rate_limited": None,
                "error": None,
            },
            {
                "run_id": 5,
                "idempotency_key": "discord:5:needs_human",
                "state": "failed",
                "attempts": 4,
                "failures": 0,
                "rate_limited": 10,
                "error": "RateLimitedError",
            },
        ],
    )
    diffs = [
        "soak/r1: notices [] vs fault-free ['NEEDS HUMAN x1']",
        "soak/r2: notices [] vs fault-free ['NEEDS HUMAN x1']",
        "soak/r3: runs 2 vs fault-free 1",
    ]
    assert _missing_notice_evidence(report, diffs) == [
        "evidence: soak/r1 run 4 needs_human: no Discord notice attempted",
        "evidence: soak/r2 run 5 needs_human: discord:5:needs_human failed attempts 4 failed"
        " posts 0 rate-limited posts 10 error 'RateLimitedError'",
    ]
