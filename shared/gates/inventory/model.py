"""The values of a test-and-CI inventory: what one repository state tests, and how.

Every record is a frozen pydantic model with the file and 1-based line it was read from, so a
comparison of two inventories (:mod:`shared.gates.inventory.compare`) can cite both sides.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Language = Literal["python", "javascript", "typescript", "go", "java", "rust"]
SkipKind = Literal["skip", "xfail", "only"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Skip(_Frozen):
    """A skip, expected failure or focus marker on a test, its class or its module.

    Attributes:
        kind: ``skip`` (not run), ``xfail`` (run, failure tolerated) or ``only`` (every other
            test of the file stops running).
        constant: True when the condition cannot change between runs (no condition,
            ``skipif(True)``, an unconditional ``pytest.skip()`` at the top of the body).
        scope: ``test``, ``class`` or ``module`` (``pytestmark``, ``importorskip``).
        line: where the marker is; text: its source, shortened to 120 characters.
    """

    kind: SkipKind
    constant: bool
    scope: Literal["test", "class", "module"] = "test"
    line: int
    text: str


class StreamRead(_Frozen):
    """One operation of a test on a stream it checks item by item
    (:mod:`shared.gates.inventory.streams`).

    Attributes:
        stream: the variable read (``scanner``); next: a call to a helper that reads exactly
            one item of it; guards: the test failures that call's result decides (0 when
            unchecked or not a next-item read); args: its other arguments' source.
    """

    stream: str
    next: bool
    guards: int = 0
    args: str = ""


class TestCase(_Frozen):
    """One test as its runner would see it.

    Attributes:
        file: repository path; suite: the enclosing class or ``describe`` titles joined by
            ``::`` (None at module level); name: the function name or the test title.
        line: the definition's line.
        collected: whether the runner's naming rules and configuration collect it.
        skips: skip/xfail/only markers that apply to it.
        assertions: meaningful assertions in its body (``assert``, ``self.assert*``,
            ``pytest.raises``, ``expect(...)``, ``t.Errorf``, ...).
        vacuous: assertions that cannot fail (``assert True``, ``x or True``,
            ``assertTrue(True)``, ``expect(true).toBe(true)``).
        early_exit: line of a ``return`` that leaves the body before its last statement.
        references: names the body uses (calls, attributes) and, as ``$NAME``, the
            environment variables it sets or reads, for "removed with its code".
        shape: the body's names in source order, to tell a rewritten test from a new one.
        parameters: string values of its ``pytest.mark.parametrize`` cases, to tell tests
            folded into one parametrized test from tests removed.
        checks: the source of each meaningful assertion, whitespace collapsed, in source order
            (Java and Rust), to tell an assertion deleted beside new ones from an edit.
        calls: ``name/count`` of the calls its body makes to plain names with ``count``
            positional arguments, to tell a test whose helper lost a parameter.
        reads: its operations on streams it checks item by item, in source order (Go), to
            tell a check deleted from an expected sequence from a check dropped.
    """

    __test__ = False  # not a pytest test class

    file: str
    suite: str | None
    name: str
    line: int
    language: Language
    collected: bool = True
    skips: tuple[Skip, ...] = ()
    assertions: int = 0
    vacuous: int = 0
    early_exit: int | None = None
    references: frozenset[str] = frozenset()
    shape: tuple[str, ...] = ()
    parameters: frozenset[str] = frozenset()
    checks: tuple[str, ...] = ()
    calls: frozenset[str] = frozenset()
    reads: tuple[StreamRead, ...] = ()

    @property
    def key(self) -> tuple[str | None, str]:
        """The identity of a test inside its file: (suite, name)."""
        return (self.suite, self.name)


class Command(_Frozen):
    """One CI or script command line after shell tokenizing (``shlex``).

    Attributes:
        tools: the test/lint/coverage tools it runs (``pytest``, ``go test``, ``jest``, ...).
        tolerant: the failure of the command is swallowed (``|| true``, ``|| :``,
            ``|| exit 0``, ``; exit 0``, ``set +e``).
        collect_only: the test tool lists tests without running them.
        narrowing: options that narrow what runs (``-k "not x"``, ``--deselect``, ``-run``).
        text: the command, normalised (tokens joined by one space).
    """

    tools: frozenset[str] = frozenset()
    tolerant: bool = False
    collect_only: bool = False
    narrowing: tuple[str, ...] = ()
    text: str


class CiStep(_Frozen):
    """A GitHub Actions step (or a script entry such as a ``package.json`` script).

    Attributes:
        file, line: where the step starts; job: the job id (or ``scripts``); key: the step's
            ``id``, else its ``name``, else ``uses``/index: identity across the two sides.
        disabled: its (or its job's) ``if:`` is constant false.
        continue_on_error: ``continue-on-error`` (step or job) is constant true.
        triggers: events of its workflow that run it (empty for scripts).
        command: its ``run`` command, tokenized (None for ``uses`` steps).
    """

    file: str
    line: int
    job: str
    key: str
    disabled: bool = False
    continue_on_error: bool = False
    triggers: frozenset[str] = frozenset()
    command: Command | None = None


class Setting(_Frozen):
    """A tool setting that widens or narrows what is checked.

    Attributes:
        tool: ``pytest``, ``coverage``, ``ruff``, ``mypy``, ``ci``, ``source``, ``jest``, ...
        key: the setting (``deselect``, ``omit``, ``fail_under``, ``ignore``, ``paths-ignore``,
            ``noqa-file``, ``pragma-no-cover``, ...); value: one normalised item of it.
        narrows: True when adding this item checks less (an ignore, an omit, a deselect);
            False when removing it checks less (a ``select``, ``strict = true``).
        file, line: where it is set.
    """

    tool: str
    key: str
    value: str
    narrows: bool = True
    file: str
    line: int | None = None


class Tell(_Frozen):
    """Code outside tests that detects a test run (``PYTEST_CURRENT_TEST``, ...)."""

    file: str
    line: int
    text: str


class Inventory(_Frozen):
    """What one repository state tests and how (the files it was built from only).

    Attributes:
        tests: every test found, collected or not.
        steps: CI steps and script entries.
        settings: tool settings (see :class:`Setting`), plus numeric thresholds in
            ``thresholds`` as (tool, key) → (value, file, line).
        tells: test-run detection in non-test code.
        symbols: functions, classes and methods defined in non-test source files.
        interface: what non-test source files take from outside themselves: the names they
            import (Python ``from m import Name``, Java single-type imports) and the
            environment variables they use, as ``$NAME``
            (:mod:`shared.gates.inventory.interface`).
        helpers: ``file|name/count`` of the functions declared in test files, ``count`` the
            positional parameters they take (functions with a rest parameter are left out).
        code_lines: ``path|line`` of non-test source lines, comments stripped and whitespace
            trimmed (to tell a suppression on existing code from one on new code).
        files: the paths read; unparsable: paths whose syntax did not parse.
    """

    tests: tuple[TestCase, ...] = ()
    steps: tuple[CiStep, ...] = ()
    settings: tuple[Setting, ...] = ()
    thresholds: tuple[tuple[str, str, float, str, int | None], ...] = ()
    tells: tuple[Tell, ...] = ()
    symbols: frozenset[str] = frozenset()
    interface: frozenset[str] = frozenset()
    helpers: frozenset[str] = frozenset()
    code_lines: frozenset[str] = frozenset()
    files: frozenset[str] = frozenset()
    unparsable: frozenset[str] = frozenset()


class ChangeSnapshot(_Frozen):
    """Both sides of a change as files: what the inventory is built from.

    Attributes:
        base: path → text at the merge base (changed files and the configuration beside them).
        head: path → text at the head commit, same paths (a path absent on a side did not exist
            there).
        source: where the contents were read (``worktree``, ``github`` — its git data API —
            or ``corpus`` in tests).
    """

    base: dict[str, str]
    head: dict[str, str]
    source: str = "worktree"
