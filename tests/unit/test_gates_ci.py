"""The CI verdict rules (DESIGN §12 items 3-4), on check shapes taken from recorded webhooks."""

from __future__ import annotations

from shared.gates.ci import ci_verdict, failure_prompt
from shared.models.events import CheckSummary
from shared.policy import Policy


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
