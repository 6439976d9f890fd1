"""CI steps and workflow filters of two inventories compared (see :mod:`.compare`).

Findings: a test/lint tool run fewer times in a workflow and nowhere else
(``ci_check_removed``), a step whose ``if:`` is never true (``ci_step_disabled``), a failure
tolerated by ``continue-on-error`` or by the command (``ci_failure_ignored``), a test tool that
only lists tests (``ci_tests_not_run``), narrowing options (``tests_deselected``), a dropped
``pull_request`` trigger (``ci_trigger_dropped``), ``paths-ignore`` over code
(``ci_paths_ignored``). A matrix entry is not a step, and a step that runs no tool is not a check.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable, Iterable

from shared.gates.antigaming import Finding
from shared.gates.inventory.model import CiStep, Inventory

Make = Callable[[str, str, int | None, str, str | None, str | None], Finding]

_CONVENTIONAL = (
    "src/app.py",
    "tests/test_app.py",
    "lib/app.js",
    "test/app.test.js",
    "src/app.ts",
    "app.go",
    "app_test.go",
)
_PR_EVENTS = frozenset({"pull_request", "pull_request_target"})
_CODE = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".jsx", ".java", ".rs")


def _runs(step: CiStep) -> bool:
    return step.command is not None and not step.disabled


def ci_findings(base: Inventory, head: Inventory, _finding: Make) -> Iterable[Finding]:
    """CI findings of the change (see the module docstring), made by ``_finding``."""

    def tools(inv: Inventory, file: str | None) -> Counter[str]:
        return Counter(
            tool
            for s in inv.steps
            if _runs(s) and (file is None or s.file == file)
            for tool in (s.command.tools if s.command else ())
        )

    everywhere = tools(head, None)
    for file in sorted({s.file for s in base.steps}):
        ran, runs = tools(base, file), tools(head, file)
        first = next(s for s in base.steps if s.file == file)
        for tool, count in ran.items():
            if runs[tool] < count and everywhere[tool] < tools(base, None)[tool]:
                yield _finding(
                    "ci_check_removed",
                    file,
                    first.line,
                    f"{tool} runs {count - runs[tool]} time(s) fewer",
                    f"{tool} x {count}",
                    f"{tool} x {runs[tool]}",
                )
    heads = {(s.file, s.job, s.key): s for s in head.steps}
    for b in base.steps:
        h = heads.get((b.file, b.job, b.key))
        if h is None or b.command is None or not b.command.tools or b.disabled:
            continue
        before = b.command.text
        after = h.command.text if h.command else "(no command)"
        checks = (
            ("ci_step_disabled", h.disabled, "the step's `if:` is never true"),
            (
                "ci_failure_ignored",
                h.continue_on_error and not b.continue_on_error,
                "continue-on-error is always true",
            ),
            (
                "ci_failure_ignored",
                bool(h.command and h.command.tolerant and not b.command.tolerant),
                "the command swallows its failure",
            ),
            (
                "ci_tests_not_run",
                bool(h.command and h.command.collect_only and not b.command.collect_only),
                "the test tool only lists tests",
            ),
        )
        for code, hit, message in checks:
            if hit:
                yield _finding(code, h.file, h.line, f"{h.job}/{h.key}: {message}", before, after)
        added = set(h.command.narrowing if h.command else ()) - set(b.command.narrowing)
        if added:
            yield _finding(
                "tests_deselected",
                h.file,
                h.line,
                f"{h.job}/{h.key}: narrowed by {', '.join(sorted(added))}",
                before,
                after,
            )
    yield from _workflow_filters(base, head, _finding)


def _workflow_filters(base: Inventory, head: Inventory, _finding: Make) -> Iterable[Finding]:
    head_triggers = {s.file: s.triggers for s in head.steps if s.job != "scripts"}
    for b in base.steps:
        runs_checks = b.command is not None and bool(b.command.tools)
        pull_requests = bool(b.triggers & _PR_EVENTS)
        dropped = b.file in head_triggers and not head_triggers[b.file] & _PR_EVENTS
        if pull_requests and runs_checks and dropped:
            yield _finding(
                "ci_trigger_dropped",
                b.file,
                b.line,
                "the workflow no longer runs on pull requests",
                ", ".join(sorted(b.triggers)),
                ", ".join(sorted(head_triggers[b.file])),
            )
            head_triggers.pop(b.file)
    # The change's own code files, and one conventional path per language: a pattern that
    # ignores every ``.py`` file skips CI for sources and tests whatever this change touches.
    code_paths = sorted(p for p in head.files | base.files if p.endswith(_CODE)) + list(
        _CONVENTIONAL
    )
    old = {(s.key, s.value) for s in base.settings if s.tool == "ci"}
    for s in head.settings:
        if s.tool != "ci" or (s.key, s.value) in old:
            continue
        pattern = s.value.lstrip("!")
        hits = [
            p
            for p in code_paths
            if fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", ""))
        ]
        if hits and not s.value.startswith("!"):
            yield _finding(
                "ci_paths_ignored",
                s.file,
                s.line,
                f"{s.key} {s.value} skips CI for changes to {hits[0]}",
                None,
                s.value,
            )
