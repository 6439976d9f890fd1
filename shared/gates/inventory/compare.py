"""Two inventories (base, head) compared as a whole: what the change stopped checking.

Rules (issue 11 "What to build"):

* a test missing from its file but present in another one is a move; a test whose exact
  body lives on under a new name in its file is renamed, even when a new test takes its old
  name; a test whose file is unparsable on the head side is not judged here (it cannot run,
  so CI fails on it);
* a removed test is legitimate when it never ran, when a test that stays does all it did, when
  it goes with the code it exercises, when the helper mode it drove is gone, or when new tests
  carry its body (a split, a merge, a rewrite): :mod:`shared.gates.inventory.removal`;
* a check deleted from a sequence read item by item, the next check of that stream staying,
  is an edited expected sequence, not a dropped check: :mod:`shared.gates.inventory.streams`;
* everything else that checks less is a finding: a test removed or no longer collected, a new
  constant skip/xfail/only (a conditional skip is a warning), fewer meaningful assertions (or,
  where the reader keeps each assertion's source, one deleted beside new ones), a new vacuous
  assertion or early exit, a CI tool run fewer times, a step disabled, tolerated or made to
  list tests only, a dropped ``pull_request`` trigger, ``paths-ignore`` over code, a
  narrowing setting added (or a widening one removed), a lower coverage floor or a higher lint
  ceiling, and code outside tests that detects a test run. A matrix entry is not a step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from difflib import SequenceMatcher

from shared.gates.antigaming import Finding
from shared.gates.inventory.compare_ci import ci_findings
from shared.gates.inventory.model import Inventory, TestCase
from shared.gates.inventory.removal import (
    arities,
    checks_gone,
    gone_names,
    helper_narrowed,
    never_ran,
    removed_with_code,
    subsumed,
)
from shared.gates.inventory.streams import sequence_edits

_SETTING_CODES = {
    "pytest": "tests_deselected",
    "jest": "tests_deselected",
    "vitest": "tests_deselected",
    "mocha": "tests_deselected",
    "coverage": "coverage_narrowed",
    "ruff": "lint_narrowed",
    "mypy": "lint_narrowed",
    "eslint": "lint_narrowed",
    "tsc": "lint_narrowed",
}
_TEST_RUNNERS = frozenset({"pytest", "jest", "vitest", "mocha"})
_WARNINGS = frozenset(
    {
        "conditional_skip_added",
        "lint_suppression_added",
        "coverage_exclusion_added",
        "test_detection_changed",
    }
)


def _finding(
    code: str, file: str, line: int | None, message: str, before: str | None, after: str | None
) -> Finding:
    severity = "warning" if code in _WARNINGS else "error"
    return Finding(
        code=code,
        file=file,
        line=line,
        message=message,
        severity=severity,
        before=before,
        after=after,
    )


def _label(t: TestCase) -> str:
    return f"{t.suite}::{t.name}" if t.suite else t.name


def _tests(base: Inventory, head: Inventory) -> Iterable[Finding]:
    by_file = {(t.file, t.key): t for t in head.tests}
    by_key: dict[tuple[str | None, str], list[TestCase]] = {}
    by_name: dict[str, list[TestCase]] = {}
    base_keys = {(t.file, t.key) for t in base.tests}
    for t in head.tests:
        if (t.file, t.key) not in base_keys:  # a move lands where the test was not before
            by_key.setdefault(t.key, []).append(t)
            by_name.setdefault(t.name, []).append(t)
    base_names = {t.name for t in base.tests}
    new = [t for t in head.tests if (t.file, t.key) not in base_keys and t.name not in base_names]
    renamed: dict[tuple[str, ...], list[TestCase]] = {}
    for t in head.tests:
        if (t.file, t.key) not in base_keys:
            renamed.setdefault(t.shape, []).append(t)
    removed_symbols = base.symbols - head.symbols
    gone = gone_names(base, head)
    before_helpers, after_helpers = arities(base.helpers), arities(head.helpers)
    claimed: set[int] = set()
    for b in base.tests:
        if not b.collected or b.file in head.unparsable:
            continue
        h = (
            by_file.get((b.file, b.key))
            or next(iter(by_key.get(b.key, [])), None)
            or next(iter(by_name.get(b.name, [])), None)
        )
        if h is not None and h.shape != b.shape and b.shape:
            # Renamed, and a new test took the old name: the body identifies the test.
            h = next((t for t in renamed.get(b.shape, []) if t.file == b.file), h)
        if h is None:
            # A same-named test that stays elsewhere with as many assertions: a duplicate.
            kept = any(
                t.assertions >= b.assertions
                and ((t.name == b.name and t.file != b.file) or (t.shape == b.shape and t.shape))
                for t in head.tests
            )
            if (
                not kept
                and not never_ran(b)
                and not subsumed(b, head)
                and not helper_narrowed(b, before_helpers, after_helpers)
                and not removed_with_code(b, removed_symbols, gone, new, claimed)
            ):
                yield _finding(
                    "test_removed",
                    b.file,
                    b.line,
                    f"test {_label(b)} removed",
                    f"{_label(b)}: {b.assertions} assertion(s)",
                    "absent",
                )
            continue
        yield from _test_pair(b, h, gone)
    for h in head.tests:
        if (h.file, h.key) not in base_keys and any(s.kind == "only" for s in h.skips):
            s = next(s for s in h.skips if s.kind == "only")
            yield _finding("test_only_added", h.file, s.line, s.text, None, s.text)


def _lost_checks(before: tuple[str, ...], after: tuple[str, ...]) -> list[str]:
    """The assertions of ``before`` that ``after`` drops when the two are aligned in order:
    deleted outright, or more of them replaced than take their place (an edited assertion
    is a replacement, not a loss)."""
    lost: list[str] = []
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for op, i, j, k, end in matcher.get_opcodes():
        if op == "delete":
            lost += before[i:j]
        elif op == "replace" and j - i > end - k:
            lost += before[i + (end - k) : j]
    return lost


def _test_pair(b: TestCase, h: TestCase, gone: frozenset[str]) -> Iterable[Finding]:
    where = f"{h.file}:{h.line}"
    if not h.collected:
        yield _finding(
            "test_not_collected",
            h.file,
            h.line,
            f"test {_label(h)} is no longer collected",
            f"{b.file}:{b.line} collected",
            f"{where} not collected",
        )
    old = {(s.kind, s.constant, s.scope, s.text) for s in b.skips}
    for s in h.skips:
        if (s.kind, s.constant, s.scope, s.text) in old:
            continue
        # A module-wide skip (``pytestmark``, ``importorskip`` at import time) newly hiding
        # tests that ran before is a finding whatever its condition.
        if s.constant or s.kind == "only" or s.scope == "module":
            code = {"skip": "test_skip_added", "xfail": "test_xfail_added"}.get(
                s.kind, "test_only_added"
            )
        else:
            code = "conditional_skip_added"
        yield _finding(code, h.file, s.line, f"{_label(h)}: {s.text}", None, s.text)
    lost = _lost_checks(b.checks, h.checks) if b.checks else []
    # Every assertion deleted names code the change removes: it goes with that code.
    explained = checks_gone(lost, gone)
    # Checks deleted from a sequence read item by item: the check after each now reads its
    # item, so the test passes only if the output changed (an expected value edited).
    if b.reads and 0 < b.assertions - h.assertions <= sequence_edits(b.reads, h.reads):
        explained = True
    if h.assertions < b.assertions and not explained:
        yield _finding(
            "assert_removed",
            h.file,
            h.line,
            f"{_label(h)}: {b.assertions - h.assertions} meaningful assertion(s) fewer",
            f"{b.file}:{b.line} {b.assertions} assertion(s)",
            f"{where} {h.assertions} assertion(s)",
        )
    elif b.checks and h.checks and lost and not explained:
        # As many assertions as before, but one of the base's is gone beside new ones.
        yield _finding(
            "assert_removed",
            h.file,
            h.line,
            f"{_label(h)}: {len(lost)} assertion(s) deleted beside new ones",
            lost[0][:120],
            f"{where} absent",
        )
    if h.vacuous > b.vacuous:
        yield _finding(
            "vacuous_assertion_added",
            h.file,
            h.line,
            f"{_label(h)}: an assertion that cannot fail",
            f"{b.vacuous} vacuous",
            f"{h.vacuous} vacuous",
        )
    if h.early_exit is not None and b.early_exit is None:
        yield _finding(
            "early_exit_added",
            h.file,
            h.early_exit,
            f"{_label(h)}: returns before its last statement",
            None,
            f"{h.file}:{h.early_exit} return",
        )


def _config(base: Inventory, head: Inventory) -> Iterable[Finding]:
    old = {(s.tool, s.key, s.value) for s in base.settings}
    new = {(s.tool, s.key, s.value) for s in head.settings}
    for s in head.settings:
        if s.tool == "ci" or not s.narrows or (s.tool, s.key, s.value) in old:
            continue
        if s.key == "inline-suppression":
            code = "lint_suppression_added"
        elif s.key == "pragma-no-cover":
            # Excluding code that was measured before narrows coverage; new code born
            # excluded is the author's call, recorded as a warning.
            path, _, code_text = s.value.split("|")[:3]
            existed = bool(code_text) and f"{path}|{code_text}" in base.code_lines
            existed = existed and not code_text.startswith(("import ", "from "))
            code = "coverage_narrowed" if existed else "coverage_exclusion_added"
        else:
            code = _SETTING_CODES.get(s.tool, "lint_narrowed")
        shown = s.value.split("|")[1] if "|" in s.value else s.value
        yield _finding(code, s.file, s.line, f"{s.tool} {s.key}: {shown} added", None, shown)
    for s in base.settings:
        if (
            s.tool != "ci"
            and not s.narrows
            and (s.tool, s.key, s.value) not in new
            and s.file in head.files
        ):
            yield _finding(
                "tests_deselected" if s.tool in _TEST_RUNNERS else "lint_narrowed",
                s.file,
                s.line,
                f"{s.tool} {s.key}: {s.value} removed",
                s.value,
                None,
            )
    after = {(tool, key): (value, file, line) for tool, key, value, file, line in head.thresholds}
    for tool, key, value, file, line in base.thresholds:
        coverage = tool == "coverage"
        new_value = after.get((tool, key))
        if new_value is None and file not in head.files:
            continue
        weaker = new_value is None if coverage else False
        if new_value is not None:
            weaker = new_value[0] < value if coverage else new_value[0] > value
        if weaker:
            code = "coverage_threshold_lowered" if coverage else "lint_threshold_lowered"
            shown = f"{new_value[0]:g}" if new_value else "removed"
            yield _finding(
                code,
                new_value[1] if new_value else file,
                new_value[2] if new_value else line,
                f"{key}: {value:g} → {shown}",
                f"{value:g}",
                shown,
            )


def _tells(base: Inventory, head: Inventory) -> Iterable[Finding]:
    old = Counter((t.file, t.text) for t in base.tells)
    kept = Counter((t.file, t.text) for t in head.tells)
    # Packages where a detection the base had is gone: new detections there replace it.
    replaced = {
        t.file.rpartition("/")[0]
        for t in base.tells
        if kept[(t.file, t.text)] < old[(t.file, t.text)]
    }
    for t in head.tells:
        if old[(t.file, t.text)] > 0:
            old[(t.file, t.text)] -= 1
            continue
        # A package that detected test runs before and now does it another way: a rewrite
        # to look at, not new behaviour.
        changed = t.file.rpartition("/")[0] in replaced
        yield _finding(
            "test_detection_changed" if changed else "test_detection_added",
            t.file,
            t.line,
            f"code outside tests detects a test run: {t.text}",
            None,
            t.text,
        )


def compare(base: Inventory, head: Inventory) -> list[Finding]:
    """Every finding of the change from ``base`` to ``head`` (see the module docstring), one
    per (code, file, line)."""
    seen: set[tuple[str, str, int | None]] = set()
    out: list[Finding] = []
    for f in (
        *_tests(base, head),
        *ci_findings(base, head, _finding),
        *_config(base, head),
        *_tells(base, head),
    ):
        if (f.code, f.file, f.line) not in seen:
            seen.add((f.code, f.file, f.line))
            out.append(f)
    return out
