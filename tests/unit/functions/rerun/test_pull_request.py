"""A rerun continues the judged pull request: its Argo labels name the PR, and the run the
rerun's workflow completes as reads it back (else the judge would see no PR and escalate)."""

from __future__ import annotations

from functions.rerun import task as tasks
from shared.argo.metadata import run_metadata


def _plan(pr_number: int | None) -> tasks.RerunPlan:
    return tasks.RerunPlan(
        run_id=9,
        repository="derekg1729/test-repo",
        issue_number=316,
        attempt=2,
        max_attempts=3,
        delivery_id=tasks.delivery_id(9, 2),
        prompt="Fix the failing linter.",
        base="main",
        head="cogni-e2e-1759155366275",
        head_sha="b47337c4ca1d0241a46b452efc902c18973b5ad6",
        issue_url="https://github.com/derekg1729/test-repo/issues/316",
        issue_title="",
        issue_body="",
        failing_checks=[],
        review_threads=[],
        reasons=[],
        pr_number=pr_number,
    )


def test_rerun_workflow_metadata_names_the_judged_pull_request() -> None:
    plan = _plan(315)
    meta = run_metadata(
        tasks.argo_parameters(plan), tasks.argo_labels(plan), tasks.argo_annotations(plan)
    )
    assert (meta.repository, meta.issue_number, meta.attempt) == ("derekg1729/test-repo", 316, 2)
    assert meta.pr_number == 315
    assert meta.head_sha == plan.head_sha


def test_rerun_without_a_pull_request_sends_no_pr_label() -> None:
    labels = tasks.argo_labels(_plan(None))
    assert "codex-judge.io/pr-number" not in labels
