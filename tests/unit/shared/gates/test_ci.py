"""The CI verdict rules (DESIGN §12 items 3-4), on check shapes taken from recorded webhooks."""

from __future__ import annotations

from shared.gates.ci import ci_verdict, failure_prompt
from shared.models.events import CheckSummary
from shared.policy.model import Policy


def _check(
    name: str, conclusion: str | None, status: str = "completed", kind: str = "check_run"
) -> CheckSummary:
    return CheckSummary(name=name, kind=kind, status=status, conclusion=conclusion)  # type: ignore[arg-type]


def test_zero_checks_is_pending_never_success() -> None:
    assert ci_verdict([], Policy()).verdict == "pending"


def test_all_reported_checks_passing_is_success() -> None:
    checks = [_check("build", "success"), _check("default", "success", kind="status")]
    assert ci_verdict(checks, Policy()).verdict == "success"


def test_required_check_not_yet_reported_is_pending() -> None:
    result = ci_verdict([_check("build", "success")], Policy(required_checks=["build", "e2e"]))
    assert result.verdict == "pending"
    assert result.pending == ["e2e"]


def test_queued_check_is_pending() -> None:
    result = ci_verdict([_check("CodeQL", None, status="queued")], Policy())
    assert result.verdict == "pending" and result.pending == ["CodeQL"]


def test_failed_required_check_fails_and_is_named_in_the_prompt() -> None:
    result = ci_verdict([_check("build", "success"), _check("test", "failure")], Policy())
    assert result.verdict == "failure" and result.failing == ["test"]
    prompt = failure_prompt(result.summary(), Policy())
    assert "- test: failure" in prompt and "build" not in prompt


def test_optional_check_failure_does_not_block_when_required_checks_are_listed() -> None:
    checks = [_check("build", "success"), _check("lint", "failure")]
    assert ci_verdict(checks, Policy(required_checks=["build"])).verdict == "success"


def test_skipped_and_neutral_follow_the_policy() -> None:
    checks = [_check("scorecard", "skipped"), _check("docs", "neutral")]
    assert ci_verdict(checks, Policy()).verdict == "success"
    strict = ci_verdict(checks, Policy(skipped_is_success=False))
    assert strict.verdict == "failure" and strict.failing == ["scorecard"]


def test_conclusion_rules_are_explicit_and_follow_the_policy() -> None:
    from shared.gates.ci import check_outcome

    default = Policy()
    outcomes = {
        c: check_outcome(_check("x", c), default)
        for c in (
            "success",
            "neutral",
            "skipped",
            "stale",
            "action_required",
            "timed_out",
            "cancelled",
            "failure",
            "error",
        )
    }
    assert outcomes == {
        "success": "pass",
        "neutral": "pass",
        "skipped": "pass",
        "stale": "pending",
        "action_required": "fail",
        "timed_out": "fail",
        "cancelled": "fail",
        "failure": "fail",
        "error": "fail",
    }
    strict = Policy(neutral_is_success=False, stale_is="failure", action_required_is="pending")
    assert check_outcome(_check("x", "neutral"), strict) == "fail"
    assert check_outcome(_check("x", "stale"), strict) == "fail"
    assert check_outcome(_check("x", "action_required"), strict) == "pending"


def test_a_pinned_check_reported_by_another_app_or_a_status_stays_pending() -> None:
    policy = Policy(required_checks=[{"name": "build", "app_id": 15368}])
    status = _check("build", "success", kind="status")
    other = CheckSummary(
        name="build", kind="check_run", app="ci", app_id=1, status="completed", conclusion="success"
    )
    result = ci_verdict([status, other], policy)
    assert (result.verdict, result.pending, result.wrong_app) == ("pending", ["build"], ["build"])
    pinned = other.model_copy(update={"app": "github-actions", "app_id": 15368})
    assert ci_verdict([status, other, pinned], policy).verdict == "success"


def test_a_running_suite_keeps_an_unlisted_policy_pending() -> None:
    result = ci_verdict([_check("build", "success")], Policy(), open_suites=["github-actions"])
    assert result.verdict == "pending"
    assert result.pending == ["check suite of github-actions"]
