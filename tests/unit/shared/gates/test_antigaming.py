"""The anti-gaming gate and the deterministic gates' outcomes, on real SWE-bench patches.

Gold patches (``patch``) and the tests that came with them (``test_patch``) are real changes
that fixed real issues: they must raise no finding. Reversing a real ``test_patch`` gives a
real-shaped change that deletes the very tests and assertions that proved the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.gates.antigaming import antigaming_findings
from shared.gates.diff import parse_unified_diff
from shared.gates.judge import gate_report
from shared.models.github import PullFile
from shared.policy.model import Policy

SWE = Path(__file__).resolve().parents[3] / "fixtures" / "corpus" / "swe-bench"


def _tasks() -> list[dict[str, Any]]:
    tasks = json.loads((SWE / "swe-bench-lite-test.5-tasks.swe-agent.json").read_text())
    tasks += json.loads((SWE / "swe-bench-dev-easy.pydicom-1458.swe-agent.json").read_text())
    return list(tasks)


def _task(instance_id: str) -> dict[str, Any]:
    return next(t for t in _tasks() if t["instance_id"] == instance_id)


def _reverse(patch: str) -> str:
    """The patch that undoes ``patch`` (what an agent deleting those tests would push)."""
    out: list[str] = []
    for line in patch.splitlines():
        if line.startswith("@@"):
            _, old, new, *rest = line.split(" ")
            out.append(" ".join(["@@", "-" + new[1:], "+" + old[1:], *rest]))
        elif line.startswith(("--- ", "+++ ")):
            out.append(line)
        elif line.startswith("+"):
            out.append("-" + line[1:])
        elif line.startswith("-"):
            out.append("+" + line[1:])
        else:
            out.append(line)
    return "\n".join(out)


def _codes(files: list[PullFile]) -> list[str]:
    return [f.code for f in antigaming_findings(files)]


@pytest.mark.parametrize("task", _tasks(), ids=lambda t: t["instance_id"])
def test_gold_patch_and_its_tests_raise_no_finding(task: dict[str, Any]) -> None:
    files = parse_unified_diff(task["patch"]) + parse_unified_diff(task["test_patch"])
    assert antigaming_findings(files) == []
    assert gate_report(files, {"summary": "fixed"}, Policy()).verdict is None


def test_model_candidate_patch_raises_no_finding() -> None:
    line = (SWE / "all_preds.pydicom-1458.gpt4-candidate.swe-agent.jsonl").read_text()
    assert antigaming_findings(parse_unified_diff(json.loads(line)["model_patch"])) == []


def test_reverting_a_real_test_patch_is_a_removed_test_with_file_and_line() -> None:
    files = parse_unified_diff(_reverse(_task("django__django-16255")["test_patch"]))
    findings = antigaming_findings(files)
    removed = [f for f in findings if f.code == "test_removed"]
    assert [(f.file, f.line) for f in removed] == [("tests/sitemaps_tests/test_http.py", 510)]
    asserts = [f for f in findings if f.code == "assert_removed"]
    assert len(asserts) == 2 and {f.line for f in asserts} == {512, 518}


def test_removing_asserts_from_a_real_test_is_a_finding() -> None:
    files = parse_unified_diff(_reverse(_task("sympy__sympy-13031")["test_patch"]))
    findings = antigaming_findings(files)
    assert [(f.code, f.file, f.line) for f in findings] == [
        ("assert_removed", "sympy/matrices/tests/test_sparse.py", 31),
        ("assert_removed", "sympy/matrices/tests/test_sparse.py", 33),
    ]


def test_renaming_and_splitting_a_test_is_not_a_removal() -> None:
    # pydicom-1458's real test_patch renames one test and adds three.
    files = parse_unified_diff(_task("pydicom__pydicom-1458")["test_patch"])
    assert "test_removed" not in _codes(files)


def test_deleted_test_file_is_a_finding() -> None:
    files = [PullFile(filename="tests/test_api.py", status="removed", deletions=40)]
    assert _codes(files) == ["test_file_deleted"]


def test_added_skip_xfail_and_only_are_findings() -> None:
    patch = (
        _task("django__django-16255")["test_patch"]
        .replace(
            "+    def test_callable_sitemod_no_items(self):",
            '+    @unittest.skip("flaky")\n+    def test_callable_sitemod_no_items(self):',
        )
        .replace("@@ -507,6 +507,16 @@", "@@ -507,6 +507,17 @@")
    )
    findings = antigaming_findings(parse_unified_diff(patch))
    assert [(f.code, f.line) for f in findings] == [("test_skip_added", 510)]
    js = PullFile(
        filename="web/src/cart.spec.ts",
        status="modified",
        patch="@@ -3,2 +3,3 @@\n-it('totals', () => {\n"
        "+it.only('totals', () => {\n+it.skip('tax', ()",
    )
    xfail = PullFile(
        filename="tests/test_io.py",
        status="modified",
        patch="@@ -1,1 +1,2 @@\n+@pytest.mark.xfail(reason='later')\n def test_io():",
    )
    assert _codes([js, xfail]) == ["test_skip_added", "test_only_added", "test_xfail_added"]


def test_lowered_coverage_and_raised_lint_limits_are_findings() -> None:
    pyproject = PullFile(
        filename="pyproject.toml",
        status="modified",
        patch="@@ -10,3 +10,3 @@\n [tool.coverage.report]\n-fail_under = 90\n+fail_under = 60\n"
        "@@ -20,2 +20,2 @@\n-max-line-length = 100\n+max-line-length = 200\n",
    )
    findings = antigaming_findings([pyproject])
    assert [(f.code, f.line) for f in findings] == [
        ("coverage_threshold_lowered", 11),
        ("lint_threshold_lowered", 20),
    ]
    raised = PullFile(
        filename="setup.cfg",
        status="modified",
        patch="@@ -1 +1 @@\n-fail_under = 80\n+fail_under = 95",
    )
    assert antigaming_findings([raised]) == []


def test_ci_edits_that_drop_checks_are_findings() -> None:
    workflow = PullFile(
        filename=".github/workflows/ci.yml",
        status="modified",
        patch="@@ -20,5 +20,4 @@\n     steps:\n       - uses: actions/checkout@v4\n"
        "-      - run: pytest -q\n+      - run: ruff check .\n-      - run: ruff check .\n"
        "+        continue-on-error: true\n",
    )
    findings = antigaming_findings([workflow])
    assert [(f.code, f.line) for f in findings] == [
        ("ci_check_removed", 22),
        ("ci_failure_ignored", 23),
    ]
    deleted = PullFile(filename=".gitlab-ci.yml", status="removed")
    assert _codes([deleted]) == ["ci_config_deleted"]


def test_anti_gaming_finding_goes_to_a_human_by_default() -> None:
    files = parse_unified_diff(_reverse(_task("django__django-16255")["test_patch"]))
    report = gate_report(files, {"summary": "done"}, Policy())
    assert report.verdict is not None and report.verdict.decision == "needs_human"
    assert {r.code for r in report.verdict.reasons} == {"test_removed", "assert_removed"}
    assert report.verdict.extra["gate_findings"][0]["file"] == "tests/sitemaps_tests/test_http.py"
    iterate = gate_report(files, {}, Policy(anti_gaming_outcome="needs_iteration")).verdict
    assert iterate is not None and iterate.decision == "needs_iteration"
    assert "test_removed at tests/sitemaps_tests/test_http.py:510" in (iterate.next_prompt or "")


def test_warn_records_findings_only_unless_strict() -> None:
    files = parse_unified_diff(_reverse(_task("sympy__sympy-13031")["test_patch"]))
    warned = gate_report(files, {}, Policy(anti_gaming_outcome="warn"))
    assert warned.verdict is None and [w.code for w in warned.warnings] == ["assert_removed"] * 2
    strict = gate_report(files, {}, Policy(anti_gaming_outcome="warn", strict=True))
    assert strict.verdict is not None and strict.verdict.decision == "needs_human"


def test_inline_suppression_is_a_warning_unless_strict() -> None:
    noqa = PullFile(
        filename="src/app.py",
        status="modified",
        patch="@@ -1 +1 @@\n-import os\n+import os  # noqa: F401",
    )
    report = gate_report([noqa], {}, Policy())
    assert report.verdict is None and report.record()["gate_warnings"][0]["line"] == 1
    strict = gate_report([noqa], {}, Policy(strict=True)).verdict
    assert strict is not None and strict.decision == "needs_iteration"
    assert strict.reasons[0].code == "lint_suppression_added"


def test_protected_path_goes_to_a_human() -> None:
    files = parse_unified_diff(_task("django__django-15781")["patch"])
    policy = Policy(protected_paths=[r"^django/core/management/"])
    verdict = gate_report(files, {}, policy).verdict
    assert verdict is not None and verdict.decision == "needs_human"
    assert verdict.reasons[0].message.endswith("django/core/management/base.py")
    assert gate_report(files, {}, Policy(protected_paths=[r"^docs/"])).verdict is None


def test_empty_patch_is_an_empty_diff_and_unmerged_paths_fail() -> None:
    empty = gate_report(parse_unified_diff(""), {"summary": "done"}, Policy()).verdict
    assert empty is not None and [r.code for r in empty.reasons] == ["empty_diff"]
    files = parse_unified_diff(_task("django__django-15781")["patch"])
    unmerged = gate_report(files, {}, Policy(), unmerged_paths=["django/core/management/base.py"])
    assert unmerged.verdict is not None and unmerged.verdict.reasons[0].code == "unmerged_paths"
    assert unmerged.verdict.decision == "needs_iteration"
