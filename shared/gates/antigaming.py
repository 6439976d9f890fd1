"""The anti-gaming gate: a diff that makes the checks easier to pass instead of the code better.

This is the line-based gate, used when only the diff is known. When both sides of every
changed file are known (a local worktree), the judge compares whole test-and-CI inventories
instead (:mod:`shared.gates.inventory`), whose findings are this module's :class:`Finding`
with a ``severity`` and ``before``/``after`` evidence.

An agent told "make CI green" can delete the failing test. This gate reads the diff's hunks
(:func:`shared.gates.diff.hunk_lines`) and names each such edit as a :class:`Finding`
(``code``, ``file``, ``line``). Codes:

* ``test_file_deleted`` — a test file is removed (a rename keeps the test and is not a finding);
* ``test_removed`` — a test function/case definition disappears and is not re-added by name;
* ``assert_removed`` — a test file ends with fewer assertion lines than it had (a changed
  assertion is an edit, not a removal);
* ``test_skip_added`` / ``test_xfail_added`` / ``test_only_added`` — a new skip, expected
  failure or focus marker (``.only`` runs one test and silently drops the rest);
* ``coverage_threshold_lowered`` / ``lint_threshold_lowered`` — a numeric coverage floor goes
  down (or is removed), a lint ceiling such as ``max-line-length`` goes up;
* ``ci_config_deleted`` / ``ci_check_removed`` / ``ci_failure_ignored`` — a CI configuration
  file is removed, loses steps/commands/hooks, or starts ignoring failures
  (``continue-on-error: true``, ``allow_failure: true``, ``|| true``, ``--exit-zero``);
* ``lint_suppression_added`` — an inline suppression (``# noqa``, ``# type: ignore``,
  ``eslint-disable``, ``pylint: disable``, ``@ts-ignore``, ``//nolint``). It is *advisory*: a
  warning unless the policy is ``strict``.

Line numbers: head-file lines for added text, base-file lines for removed text. Every pattern
here is RE2 (DESIGN §9). Marker spellings: pytest "Skipping and xfail", unittest "Skipping tests
and expected failures", Jest/Mocha ``.only``/``.skip``/``xit``/``fit``, JUnit 5 ``@Disabled``,
Go ``t.Skip``; GitHub Actions ``continue-on-error``, GitLab CI ``allow_failure``; coverage.py
``fail_under``, pytest-cov ``--cov-fail-under``, Jest ``coverageThreshold``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Literal

import re2
from pydantic import BaseModel, ConfigDict

from shared.gates.diff import DiffLine, hunk_lines
from shared.models.github import PullFile

ADVISORY_CODES = frozenset({"lint_suppression_added"})

_TEST_PATH = re2.compile(
    r"(^|/)(tests?|testing|__tests__|specs?)/|(^|/)test_[^/]*\.py$|_tests?\.(py|go|rb|rs)$"
    r"|\.(test|spec)\.[cm]?[jt]sx?$|(^|/)conftest\.py$|Tests?\.(java|kt|cs)$|_spec\.rb$"
)
_TEST_DEF = re2.compile(
    r"^\s*(?:async\s+)?def\s+(test\w*)\s*\(|^\s*class\s+(Test\w*)|^\s*func\s+(Test\w+)\s*\("
    r"|^\s*(?:it|test)(?:\.\w+)?\s*\(\s*['\"`]([^'\"`]+)"
)
_ASSERTION = re2.compile(
    r"^\s*assert\b|\.assert\w*\s*\(|\bassert_\w+\s*\(|\bexpect\s*\(|\bpytest\.raises\b"
    r"|\b(?:assert|require)\.\w+\s*\(|\bt\.(?:Error|Errorf|Fatal|Fatalf)\s*\("
)
_SKIP = re2.compile(
    r"@pytest\.mark\.skip|\bpytest\.skip\s*\(|@unittest\.skip|\.skipTest\s*\(|@skip(?:If|Unless)?\b"
    r"|\b(?:it|describe|test|context)\.skip\s*\(|\bx(?:it|describe|test)\s*\(|@Disabled\b|@Ignore\b"
    r"|\bt\.Skip(?:f|Now)?\s*\("
)
_XFAIL = re2.compile(r"@pytest\.mark\.xfail|\bpytest\.xfail\s*\(|@unittest\.expectedFailure")
_ONLY = re2.compile(r"\b(?:it|describe|test|context)\.only\s*\(|\bf(?:it|describe)\s*\(")
_SUPPRESSION = re2.compile(
    r"#\s*noqa\b|#\s*type:\s*ignore|eslint-disable|pylint:\s*disable|@ts-ignore|@ts-nocheck"
    r"|//\s*nolint\b"
)
_CI_PATH = re2.compile(
    r"^\.github/workflows/[^/]+\.ya?ml$|^\.gitlab-ci\.ya?ml$|^\.circleci/|^Jenkinsfile$"
    r"|^azure-pipelines\.ya?ml$|^\.travis\.ya?ml$|^\.pre-commit-config\.ya?ml$|^\.buildkite/"
)
_CI_STEP = re2.compile(
    r"^\s*-?\s*(?:run|uses|script|name|id|entry|command)\s*:|^\s*-\s+\S|^\s*(?:sh|bat)\s+['\"]"
)
_CI_IGNORE = re2.compile(
    r"continue-on-error\s*:\s*true|allow_failure\s*:\s*true|\|\|\s*true\b|--exit-zero\b"
    r"|^\s*if\s*:\s*(?:false|\$\{\{\s*false\s*\}\})\s*$"
)
_CONFIG_PATH = re2.compile(
    r"\.(toml|cfg|ini|ya?ml|json|coveragerc|flake8|pylintrc|nycrc)$|(^|/)\.?(coveragerc|flake8"
    r"|pylintrc|nycrc)$|\.config\.[cm]?[jt]s$|(^|/)Makefile$"
)
# key → True when a lower value is weaker (coverage floors), False when higher is (lint caps).
_THRESHOLD = re2.compile(
    r"(?i)(fail[_-]under|cov[_-]fail[_-]under|min[_-]?coverage|minimum[_-]coverage"
    r"|coverageThreshold|branches|lines|functions|statements|max[_-]line[_-]length"
    r"|line[_-]length|max[_-]complexity|max[_-]warnings|max[_-]args|max[_-]branches"
    r"|max[_-]statements|max[_-]returns|max[_-]nested[_-]blocks)[\"']?\s*[:=\s]\s*[\"']?"
    r"(\d+(?:\.\d+)?)"
)
_COVERAGE_KEYS = frozenset(
    {"failunder", "covfailunder", "mincoverage", "minimumcoverage", "branches", "lines"}
    | {"functions", "statements", "coveragethreshold"}
)


class Finding(BaseModel):
    """One named gate finding: ``code`` (see the module docstring), the ``file`` path, the
    1-based ``line`` (None for a whole-file finding), a human ``message``, its ``severity``
    (a ``warning`` decides nothing outside strict mode) and, from the inventory comparison
    (:mod:`shared.gates.inventory.compare`), the ``before``/``after`` evidence."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    file: str
    line: int | None = None
    message: str
    severity: Literal["error", "warning"] = "error"
    before: str | None = None
    after: str | None = None

    @property
    def advisory(self) -> bool:
        """Whether this finding is only a warning outside strict mode."""
        return self.code in ADVISORY_CODES or self.severity == "warning"


def is_test_path(path: str) -> bool:
    """Whether ``path`` looks like a test file (tests/ folders, test_*.py, *.spec.ts, …)."""
    return bool(_TEST_PATH.search(path))


def _norm(text: str) -> str:
    return " ".join(text.split())


def _test_name(text: str) -> str | None:
    match = _TEST_DEF.search(text)
    if match is None:
        return None
    return next((g for g in match.groups() if g), None)


def _net_removed(lines: list[DiffLine], pattern: re2._Regexp) -> list[DiffLine]:
    """Removed lines matching ``pattern`` beyond the number of added ones, skipping removed
    lines re-added verbatim (moves), in base order."""
    removed = [ln for ln in lines if ln.kind == "-" and pattern.search(ln.text)]
    added = [ln for ln in lines if ln.kind == "+" and pattern.search(ln.text)]
    excess = len(removed) - len(added)
    if excess <= 0:
        return []
    re_added = Counter(_norm(ln.text) for ln in added)
    unmatched: list[DiffLine] = []
    for ln in removed:
        key = _norm(ln.text)
        if re_added[key] > 0:
            re_added[key] -= 1
        else:
            unmatched.append(ln)
    return unmatched[:excess]


def _new_markers(lines: list[DiffLine], pattern: re2._Regexp) -> list[DiffLine]:
    """Added lines matching ``pattern`` that were not simply moved (same text removed)."""
    removed = Counter(_norm(ln.text) for ln in lines if ln.kind == "-" and pattern.search(ln.text))
    out: list[DiffLine] = []
    for ln in lines:
        if ln.kind == "+" and pattern.search(ln.text):
            key = _norm(ln.text)
            if removed[key] > 0:
                removed[key] -= 1
            else:
                out.append(ln)
    return out


def _thresholds(f: PullFile, lines: list[DiffLine]) -> list[Finding]:
    def values(kind: str) -> dict[str, tuple[float, DiffLine]]:
        found: dict[str, tuple[float, DiffLine]] = {}
        for ln in lines:
            if ln.kind == kind:
                for key, number in _THRESHOLD.findall(ln.text):
                    found.setdefault(
                        key.lower().replace("_", "").replace("-", ""), (float(number), ln)
                    )
        return found

    before, after = values("-"), values("+")
    findings: list[Finding] = []
    for key, (old, old_line) in before.items():
        coverage = key in _COVERAGE_KEYS
        new = after.get(key)
        weaker = (new is None and coverage) or (
            new is not None and (new[0] < old if coverage else new[0] > old)
        )
        if not weaker:
            continue
        code = "coverage_threshold_lowered" if coverage else "lint_threshold_lowered"
        where = new[1].new_line if new else old_line.old_line
        change = f"{old:g} → {new[0]:g}" if new else f"{old:g} → removed"
        findings.append(Finding(code=code, file=f.filename, line=where, message=f"{key}: {change}"))
    return findings


def _ci(f: PullFile, lines: list[DiffLine]) -> list[Finding]:
    findings = [
        Finding(
            code="ci_check_removed",
            file=f.filename,
            line=ln.old_line,
            message=f"CI step removed: {ln.text.strip()[:120]}",
        )
        for ln in _net_removed(lines, _CI_STEP)
    ]
    findings += [
        Finding(
            code="ci_failure_ignored",
            file=f.filename,
            line=ln.new_line,
            message=f"CI now ignores failures: {ln.text.strip()[:120]}",
        )
        for ln in _new_markers(lines, _CI_IGNORE)
    ]
    return findings


def _tests(f: PullFile, lines: list[DiffLine]) -> list[Finding]:
    findings: list[Finding] = []
    # A renamed or rewritten test is not a removal: only the net loss of test definitions
    # counts, reported as the removed names that were not re-added.
    added_names = [n for n in (_test_name(ln.text) for ln in lines if ln.kind == "+") if n]
    removed = [(ln, n) for ln in lines if ln.kind == "-" and (n := _test_name(ln.text))]
    gone = [(ln, n) for ln, n in removed if n not in added_names]
    for ln, name in gone[: max(0, len(removed) - len(added_names))]:
        findings.append(
            Finding(
                code="test_removed",
                file=f.filename,
                line=ln.old_line,
                message=f"test {name} removed",
            )
        )
    for ln in _net_removed(lines, _ASSERTION):
        findings.append(
            Finding(
                code="assert_removed",
                file=f.filename,
                line=ln.old_line,
                message=f"assertion removed: {ln.text.strip()[:120]}",
            )
        )
    return findings


def antigaming_findings(files: Iterable[PullFile]) -> list[Finding]:
    """Every anti-gaming finding in ``files`` (see the module docstring), in file order.

    Args:
        files: the diff per file (GitHub "List pull request files" or
            :func:`shared.gates.diff.parse_unified_diff`); a file without ``patch`` (binary,
            too large) is judged by its status alone.
    """
    findings: list[Finding] = []
    for f in files:
        test_file = is_test_path(f.filename)
        ci_file = bool(_CI_PATH.search(f.filename))
        if f.status == "removed":
            if test_file:
                findings.append(
                    Finding(code="test_file_deleted", file=f.filename, message="test file deleted")
                )
            elif ci_file:
                findings.append(
                    Finding(code="ci_config_deleted", file=f.filename, message="CI file deleted")
                )
            continue
        lines = list(hunk_lines(f.patch))
        if test_file:
            findings += _tests(f, lines)
        for code, pattern in (
            ("test_skip_added", _SKIP),
            ("test_xfail_added", _XFAIL),
            ("test_only_added", _ONLY),
            ("lint_suppression_added", _SUPPRESSION),
        ):
            findings += [
                Finding(code=code, file=f.filename, line=ln.new_line, message=ln.text.strip()[:120])
                for ln in _new_markers(lines, pattern)
            ]
        if ci_file:
            findings += _ci(f, lines)
        if _CONFIG_PATH.search(f.filename) or ci_file:
            findings += _thresholds(f, lines)
    return findings
