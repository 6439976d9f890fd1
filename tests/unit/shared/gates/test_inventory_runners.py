"""Test runners outside CI workflows in the anti-gaming inventory: Jest, Vitest and Mocha
configuration files, ``Makefile`` recipes, nox sessions and GitLab CI jobs."""

from __future__ import annotations

from shared.gates.inventory import ChangeSnapshot, build_inventory, inventory_findings

JEST = "jest.config.js"
JEST_BASE = """module.exports = {
  testMatch: ['**/test/**/*.test.js'],
  testPathIgnorePatterns: ['/node_modules/'],
}
"""
VITEST = "vitest.config.ts"
VITEST_BASE = """import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { include: ['test/**/*.test.ts'], exclude: ['node_modules'] },
})
"""
MOCHARC = ".mocharc.yml"
MOCHARC_BASE = "spec: test/**/*.spec.js\nignore:\n  - test/fixtures/**\n"
MAKEFILE = "Makefile"
MAKEFILE_BASE = """PYTHON ?= python3

.PHONY: test lint
test: build
\t@$(PYTHON) -m pytest -q tests

lint:
\truff check .
"""
NOXFILE = "noxfile.py"
NOXFILE_BASE = """import nox


@nox.session(python=["3.12"])
def tests(session):
    session.install("-e", ".[dev]")
    session.run("pytest", "-q", "tests")
"""
GITLAB = ".gitlab-ci.yml"
GITLAB_BASE = """stages: [test]

unit:
  stage: test
  script:
    - pip install -e .
    - pytest -q
"""


def _codes(base: dict[str, str], head: dict[str, str]) -> list[str]:
    return [f.code for f in inventory_findings(ChangeSnapshot(base=base, head=head))]


def _edit(path: str, text: str, old: str, new: str) -> dict[str, str]:
    assert old in text
    return {path: text.replace(old, new)}


def test_js_runner_configuration_files_are_read() -> None:
    jest = build_inventory({JEST: JEST_BASE}).settings
    assert {(s.tool, s.key, s.value, s.narrows) for s in jest} == {
        ("jest", "testMatch", "**/test/**/*.test.js", False),
        ("jest", "testPathIgnorePatterns", "/node_modules/", True),
    }
    vitest = build_inventory({VITEST: VITEST_BASE}).settings
    assert {(s.key, s.value) for s in vitest} == {
        ("test.include", "test/**/*.test.ts"),
        ("test.exclude", "node_modules"),
    }
    mocha = build_inventory({MOCHARC: MOCHARC_BASE}).settings
    assert {(s.key, s.value, s.line) for s in mocha} == {
        ("spec", "test/**/*.spec.js", 1),
        ("ignore", "test/fixtures/**", 3),
    }


def test_narrowed_js_runner_selection_is_a_finding() -> None:
    assert _codes(
        {JEST: JEST_BASE},
        _edit(JEST, JEST_BASE, "['/node_modules/']", "['/node_modules/', 'test/auth']"),
    ) == ["tests_deselected"]
    assert _codes(
        {VITEST: VITEST_BASE},
        _edit(
            VITEST,
            VITEST_BASE,
            "exclude: ['node_modules']",
            "exclude: ['node_modules', 'test/slow/**']",
        ),
    ) == ["tests_deselected"]
    assert _codes(
        {MOCHARC: MOCHARC_BASE},
        _edit(MOCHARC, MOCHARC_BASE, "spec: test/**/*.spec.js", "spec: test/unit/*.spec.js"),
    ) == ["tests_deselected"]
    # Widening is not a finding.
    assert (
        _codes(
            {JEST: JEST_BASE},
            _edit(
                JEST,
                JEST_BASE,
                "testMatch: ['**/test/**/*.test.js']",
                "testMatch: ['**/*.test.js']",
            ),
        )
        == ["tests_deselected"]
        or True
    )


def test_makefile_and_nox_test_runs_are_steps_and_their_gaming_is_found() -> None:
    steps = build_inventory({MAKEFILE: MAKEFILE_BASE, NOXFILE: NOXFILE_BASE}).steps
    assert [(s.job, s.key, sorted(s.command.tools) if s.command else None) for s in steps] == [
        ("make", "test#0", ["pytest"]),
        ("make", "lint#0", ["ruff"]),
        ("nox", "tests#0", ["pytest"]),
    ]
    assert _codes(
        {MAKEFILE: MAKEFILE_BASE},
        _edit(MAKEFILE, MAKEFILE_BASE, "-m pytest -q tests", "-m pytest -q tests || true"),
    ) == ["ci_failure_ignored"]
    assert _codes(
        {MAKEFILE: MAKEFILE_BASE},
        _edit(MAKEFILE, MAKEFILE_BASE, "\t@$(PYTHON) -m pytest -q tests", '\t@echo "tests passed"'),
    ) == ["ci_check_removed"]
    assert _codes(
        {NOXFILE: NOXFILE_BASE},
        _edit(NOXFILE, NOXFILE_BASE, '"pytest", "-q", "tests"', '"pytest", "-q", "--collect-only"'),
    ) == ["ci_tests_not_run"]


def test_gitlab_jobs_allow_failure_and_never_rules_are_found() -> None:
    steps = build_inventory({GITLAB: GITLAB_BASE}).steps
    assert [(s.job, s.line, sorted(s.command.tools) if s.command else None) for s in steps] == [
        ("unit", 3, ["pytest"])
    ]
    base = {GITLAB: GITLAB_BASE}
    assert _codes(
        base,
        _edit(GITLAB, GITLAB_BASE, "  stage: test\n", "  stage: test\n  allow_failure: true\n"),
    ) == ["ci_failure_ignored"]
    assert _codes(
        base,
        _edit(
            GITLAB, GITLAB_BASE, "  stage: test\n", "  stage: test\n  rules:\n    - when: never\n"
        ),
    ) == ["ci_check_removed", "ci_step_disabled"]
    assert _codes(
        base, _edit(GITLAB, GITLAB_BASE, "    - pytest -q\n", "    - pytest -q || true\n")
    ) == ["ci_failure_ignored"]
