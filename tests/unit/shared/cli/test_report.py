"""The runs table shows where a run stands now, and what the judge said when it differs."""

from __future__ import annotations

from shared.cli.report import render_runs


def _run(**fields: object) -> dict[str, object]:
    base = {
        "id": 8,
        "repository": "Codertocat/Hello-World",
        "issue_number": 22,
        "attempt": 1,
        "head_sha": "ec26c3e5",
        "pr_number": 2,
        "status": "needs_iteration",
        "decision": "pass",
        "ci_verdict": "success",
        "review_verdict": "approved",
        "evaluations": 1,
        "reasons": ["offline_pass"],
        "reason": "post_deploy_failed",
        "path": ["run-complete:x", "judge:y", "deploy:z"],
    }
    return {**base, **fields}


def test_a_run_that_moved_on_after_its_verdict_shows_both_reasons() -> None:
    table = render_runs([_run()])
    assert "post_deploy_failed (judge: offline_pass)" in table
    assert "run 8: run-complete → judge → deploy" in table


def test_a_run_whose_reason_is_the_verdict_shows_it_once() -> None:
    table = render_runs(
        [_run(reason="ci_failed", reasons=["ci_failed"], decision="needs_iteration")]
    )
    assert "ci_failed" in table and "(judge:" not in table
