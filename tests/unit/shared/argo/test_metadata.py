"""Run metadata from workflow parameters, then labels, then annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.argo import WorkflowCompletion, parse_completion
from shared.argo.metadata import repository_name, run_metadata

DERIVED = Path(__file__).resolve().parents[3] / "fixtures" / "argo"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _completion(name: str) -> WorkflowCompletion:
    result = parse_completion((DERIVED / name).read_bytes())
    assert isinstance(result, WorkflowCompletion)
    return result


def test_metadata_from_workflow_parameters() -> None:
    meta = _completion("sensor.succeeded.artgc-mixed-s3.params.json").metadata
    assert meta.repository == "acme/widgets"
    assert (meta.issue_number, meta.attempt) == (42, 1)
    assert meta.head_sha == SHA
    assert (meta.head_ref, meta.base_ref) == ("codex/issue-42", "main")
    assert meta.missing_required() == []


def test_metadata_from_label_safe_labels_and_annotations() -> None:
    meta = _completion("sensor.failed.onexit-s3-keys.labels.json").metadata
    assert meta.repository == "acme/widgets"
    assert (meta.issue_number, meta.attempt) == (7, 2)
    assert meta.head_sha == "89abcdef0123456789abcdef0123456789abcdef"
    assert meta.pr_url == "https://github.com/acme/widgets/pull/8"
    assert meta.pr_number == 8  # read from the PR URL
    assert meta.head_ref == "codex/issue-7"


def test_aliased_parameters_are_normalised() -> None:
    meta = _completion("sensor.succeeded.wftref-arguments.stringified.json").metadata
    assert meta.repository == "acme/widgets"  # from https://github.com/acme/widgets.git
    assert meta.issue_number == 9  # from "#9"
    assert meta.head_ref == "codex/issue-9"  # `head` held a branch, not a SHA
    assert meta.head_sha == "fedcba9876543210fedcba9876543210fedcba98"


def test_parameters_win_over_labels_which_win_over_annotations() -> None:
    meta = run_metadata(
        {"repo": "param/repo"},
        {
            "codex-judge.io/repository-owner": "label",
            "codex-judge.io/repository-name": "repo",
            "codex-judge.io/issue-number": "5",
        },
        {
            "codex-judge.io/repository": "annotation/repo",
            "codex-judge.io/issue-number": "6",
            "codex-judge.io/head-sha": SHA,
        },
    )
    assert (meta.repository, meta.issue_number, meta.head_sha) == ("param/repo", 5, SHA)


def test_unreadable_values_count_as_missing() -> None:
    meta = run_metadata(
        {"repository": "not a repo", "issue_number": "twelve", "attempt": "0"}, {}, {}
    )
    assert meta.missing_required() == ["repository", "issue_number", "head_sha"]
    assert meta.attempt is None


def test_original_corpus_workflows_carry_no_run_metadata() -> None:
    raw = (DERIVED.parent / "corpus/argo/workflow.succeeded.wftref-arguments.yaml").read_bytes()
    result = parse_completion(raw)
    assert isinstance(result, WorkflowCompletion)
    assert result.metadata.missing_required() == ["repository", "issue_number", "head_sha"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme/widgets", "acme/widgets"),
        ("acme/widgets.git", "acme/widgets"),
        ("https://github.com/acme/widgets", "acme/widgets"),
        ("https://github.com/acme/widgets/pull/3", "acme/widgets"),
        ("widgets", None),
        ("", None),
    ],
)
def test_repository_names(value: str, expected: str | None) -> None:
    assert repository_name(value) == expected


def test_derived_fixtures_hold_json_strings_where_a_sensor_without_raw_data_would() -> None:
    doc = json.loads((DERIVED / "sensor.succeeded.wftref-arguments.stringified.json").read_text())
    assert all(isinstance(doc[k], str) for k in ("metadata", "arguments", "status"))
