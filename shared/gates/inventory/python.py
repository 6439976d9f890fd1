"""Python tests, symbols and test-run tells, read with :mod:`ast` and :mod:`tokenize`.

Test rules: pytest "Conventions for Python test discovery" (``test_*.py``/``*_test.py``,
``Test*`` classes without ``__init__``, ``test*`` functions and methods) and unittest
(``TestCase`` subclasses, ``test*`` methods). Skips: ``@pytest.mark.skip/skipif/xfail`` (also
``from pytest import mark`` and aliases), module/class ``pytestmark``, ``@unittest.skip*``,
``@unittest.expectedFailure``, ``pytest.skip()``/``self.skipTest()``/``raise SkipTest`` in a
body, module-level ``pytest.importorskip``. Comments never parse as assertions.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from functools import lru_cache

from shared.gates.inventory.interface import environment
from shared.gates.inventory.model import Skip, Tell, TestCase

_ASSERT_CALLS = ("raises", "warns", "deprecated_call", "fail")
_SKIP_MARKS = {"skip": "skip", "skipif": "skip", "xfail": "xfail"}
_UNITTEST_SKIPS = {"skip": "skip", "skipIf": "skip", "skipUnless": "skip"}
_TELL_STRINGS = frozenset({"PYTEST_CURRENT_TEST", "PYTEST_VERSION", "UNITTEST_RUNNING"})


def _short(node: ast.AST) -> str:
    return ast.unparse(node)[:120]


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for a Name/Attribute chain (a call's function included), else ''."""
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _constant(node: ast.AST) -> bool:
    """Whether ``node`` reads no name, attribute or call: its value never changes."""
    return not any(isinstance(n, ast.Name | ast.Attribute | ast.Call) for n in ast.walk(node))


def _truthy_constant(node: ast.AST) -> bool:
    """An expression that is always true: a true literal, or ``x or <true literal>``."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return any(_truthy_constant(v) for v in node.values)
    if isinstance(node, ast.Compare) and len(node.comparators) == 1:
        same = ast.dump(node.left) == ast.dump(node.comparators[0])
        if same and isinstance(node.ops[0], ast.Eq | ast.Is | ast.GtE | ast.LtE):
            return True
    if _constant(node):
        try:
            return bool(ast.literal_eval(node))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
    return False


class _Aliases:
    """Local names bound to ``pytest``, ``pytest.mark``, ``unittest`` and their members."""

    def __init__(self, tree: ast.Module) -> None:
        self.names: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.names[a.asname or a.name] = a.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    self.names[a.asname or a.name] = f"{node.module}.{a.name}"

    def resolve(self, node: ast.AST) -> str:
        dotted = _dotted(node)
        head, _, rest = dotted.partition(".")
        full = self.names.get(head, head)
        return f"{full}.{rest}" if rest else full


def _marker(node: ast.expr, aliases: _Aliases) -> Skip | None:
    """A decorator or ``pytestmark`` item as a skip marker, or None."""
    name = aliases.resolve(node)
    kind: str | None = None
    conditions: list[ast.expr] = []
    if name.startswith("pytest.mark."):
        kind = _SKIP_MARKS.get(name.removeprefix("pytest.mark."))
        if isinstance(node, ast.Call):
            conditions = list(node.args[:1])
            conditions += [k.value for k in node.keywords if k.arg == "condition"]
    elif name.startswith(("unittest.", "unittest.case.")):
        leaf = name.rsplit(".", 1)[-1]
        kind = _UNITTEST_SKIPS.get(leaf) or ("xfail" if leaf == "expectedFailure" else None)
        if isinstance(node, ast.Call) and leaf in ("skipIf", "skipUnless"):
            conditions = list(node.args[:1])
    if kind is None:
        return None
    if name.endswith("xfail") and isinstance(node, ast.Call):
        conditions = [c for c in conditions if not isinstance(c, ast.Constant | ast.JoinedStr)]
    constant = all(_constant(c) for c in conditions)
    if constant and conditions and name.endswith("skipUnless"):
        constant = not _truthy_constant(conditions[0])
    elif constant and conditions:
        constant = _truthy_constant(conditions[0]) or name.endswith("xfail")
    return Skip(kind=kind, constant=constant, line=node.lineno, text=_short(node))  # type: ignore[arg-type]


def _pytestmark(body: list[ast.stmt], aliases: _Aliases, scope: str) -> list[Skip]:
    out: list[Skip] = []
    for stmt in body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets):
                value = stmt.value
                items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
                for item in items:
                    if item is not None and (m := _marker(item, aliases)) is not None:
                        out.append(m.model_copy(update={"scope": scope}))
        elif scope == "module" and isinstance(stmt, ast.Expr | ast.Assign):
            call = stmt.value
            if isinstance(call, ast.Call) and aliases.resolve(call).endswith("importorskip"):
                out.append(
                    Skip(
                        kind="skip",
                        constant=False,
                        scope="module",
                        line=stmt.lineno,
                        text=_short(call),
                    )
                )
        if scope == "module":
            out += _body_skips([stmt], aliases, scope="module")
    return out


def _body_skips(body: list[ast.stmt], aliases: _Aliases, scope: str = "test") -> list[Skip]:
    """Skips called or raised by the statements of ``body``: constant at top level, conditional
    inside an ``if``/``try``."""
    out: list[Skip] = []

    def visit(stmts: list[ast.stmt], constant: bool) -> None:
        for stmt in stmts:
            call: ast.AST | None = None
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                call = stmt.value
            elif isinstance(stmt, ast.Raise) and stmt.exc is not None:
                call = stmt.exc
            if call is not None:
                name = aliases.resolve(call)
                leaf = name.rsplit(".", 1)[-1]
                if name in ("pytest.skip", "pytest.xfail") or leaf in ("skipTest", "SkipTest"):
                    kind = "xfail" if name == "pytest.xfail" else "skip"
                    out.append(
                        Skip(
                            kind=kind,
                            constant=constant,
                            scope=scope,  # type: ignore[arg-type]
                            line=stmt.lineno,
                            text=_short(stmt),
                        )
                    )
            if isinstance(stmt, ast.If | ast.Try | ast.For | ast.While | ast.With):
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(stmt, field, []), False)
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body, False)

    visit(body, True)
    return out


def _assertions(body: list[ast.stmt], aliases: _Aliases) -> tuple[int, int]:
    """(meaningful, vacuous) assertions anywhere in ``body`` (nested helpers included)."""
    meaningful = vacuous = 0
    for node in (n for stmt in body for n in ast.walk(stmt)):
        if isinstance(node, ast.Assert):
            if _truthy_constant(node.test):
                vacuous += 1
            else:
                meaningful += 1
        elif isinstance(node, ast.Call):
            name = aliases.resolve(node)
            leaf = name.rsplit(".", 1)[-1]
            if (
                leaf.startswith(("assert", "assert_"))
                or (name.startswith("pytest.") and leaf in _ASSERT_CALLS)
                or leaf in ("fail", "failUnless", "expect")
            ):
                args = list(node.args)
                if leaf in ("assertTrue", "assert_", "failUnless") and args:
                    vacuous_call = _truthy_constant(args[0])
                elif leaf in ("assertEqual", "assertIs", "assertEquals") and len(args) >= 2:
                    vacuous_call = ast.dump(args[0]) == ast.dump(args[1])
                elif leaf in ("assertFalse", "assertIsNone") and args:
                    vacuous_call = _constant(args[0]) and not _truthy_constant(args[0])
                else:
                    vacuous_call = False
                if vacuous_call:
                    vacuous += 1
                else:
                    meaningful += 1
    return meaningful, vacuous


def _early_exit(body: list[ast.stmt]) -> int | None:
    """Line of a top-level ``return`` with statements after it (docstrings excepted)."""
    for index, stmt in enumerate(body):
        if isinstance(stmt, ast.Return) and index < len(body) - 1:
            return stmt.lineno
    return None


def _references(body: list[ast.stmt]) -> frozenset[str]:
    refs: set[str] = set()
    for node in (n for stmt in body for n in ast.walk(stmt)):
        if isinstance(node, ast.Name):
            refs.add(node.id)
        elif isinstance(node, ast.Attribute):
            refs.add(node.attr)
    return frozenset(refs)


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef, aliases: _Aliases) -> frozenset[str]:
    values: set[str] = set()
    for decorator in fn.decorator_list:
        if isinstance(decorator, ast.Call) and aliases.resolve(decorator).endswith(
            "mark.parametrize"
        ):
            for arg in decorator.args[1:2]:
                values |= {
                    n.value
                    for n in ast.walk(arg)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                }
    return frozenset(values)


def _shape(body: list[ast.stmt]) -> tuple[str, ...]:
    names = [
        (n.lineno, n.col_offset, n.id if isinstance(n, ast.Name) else n.attr)
        for stmt in body
        for n in ast.walk(stmt)
        if isinstance(n, ast.Name | ast.Attribute)
    ] + [
        (n.lineno, n.col_offset, repr(n.value)[:40])
        for stmt in body
        for n in ast.walk(stmt)
        if isinstance(n, ast.Constant)
    ]
    return tuple(name for _, _, name in sorted(names))


@lru_cache(maxsize=256)
def python_tests(path: str, text: str, collected_file: bool) -> tuple[list[TestCase], bool]:
    """Every test function/method of one Python file, and whether the file parsed.

    Args:
        path: repository path; text: the file's source.
        collected_file: whether the runner's configuration collects this path at all.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return [], False
    aliases = _Aliases(tree)
    module_skips = _pytestmark(tree.body, aliases, "module")
    out: list[TestCase] = []

    def case(
        fn: ast.FunctionDef | ast.AsyncFunctionDef,
        suite: str | None,
        inherited: list[Skip],
        collected: bool,
    ) -> TestCase:
        skips = [m for d in fn.decorator_list if (m := _marker(d, aliases)) is not None]
        meaningful, vacuous = _assertions(fn.body, aliases)
        return TestCase(
            file=path,
            suite=suite,
            name=fn.name,
            line=fn.lineno,
            language="python",
            collected=collected,
            skips=tuple(inherited + skips + _body_skips(fn.body, aliases)),
            assertions=meaningful,
            vacuous=vacuous,
            early_exit=_early_exit(fn.body),
            references=_references(fn.body) | environment(fn.body),
            shape=_shape(fn.body),
            parameters=_parameters(fn, aliases),
        )

    def visit_class(node: ast.ClassDef, prefix: str | None, inherited: list[Skip]) -> None:
        bases = {aliases.resolve(b).rsplit(".", 1)[-1] for b in node.bases}
        unittest_case = any(b.endswith("TestCase") for b in bases)
        has_init = any(isinstance(s, ast.FunctionDef) and s.name == "__init__" for s in node.body)
        collected = collected_file and (
            unittest_case or (node.name.startswith("Test") and not has_init)
        )
        suite = f"{prefix}::{node.name}" if prefix else node.name
        skips = (
            inherited
            + [
                m.model_copy(update={"scope": "class"})
                for d in node.decorator_list
                if (m := _marker(d, aliases)) is not None
            ]
            + _pytestmark(node.body, aliases, "class")
        )
        visit_body(node.body, suite, skips, collected)

    def visit_body(
        body: list[ast.stmt], suite: str | None, skips: list[Skip], collected: bool
    ) -> None:
        # ``test*`` functions are tests; classes are visited for theirs (nested ones too).
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name.startswith(
                "test"
            ):
                out.append(case(stmt, suite, skips, collected))
            elif isinstance(stmt, ast.ClassDef):
                visit_class(stmt, suite, skips)

    visit_body(tree.body, None, module_skips, collected_file)
    return out, True


@lru_cache(maxsize=256)
def python_symbols(text: str) -> frozenset[str]:
    """Functions, classes and methods a non-test module defines (empty when it does not
    parse)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return frozenset()
    return frozenset(
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    )


@lru_cache(maxsize=256)
def python_tells(path: str, text: str) -> list[Tell]:
    """Code that detects a test run: ``PYTEST_CURRENT_TEST`` and friends as strings, and
    ``"pytest"``/``"unittest"`` looked up in ``sys.modules``."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    tells: list[Tell] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in _TELL_STRINGS:
            tells.append(Tell(file=path, line=node.lineno, text=str(node.value)))
        elif (
            isinstance(node, ast.Compare)
            and any(_dotted(c) == "sys.modules" for c in node.comparators)
            and isinstance(node.left, ast.Constant)
            and str(node.left.value).split(".")[0] in ("pytest", "unittest", "_pytest")
        ):
            tells.append(Tell(file=path, line=node.lineno, text=_short(node)))
    return tells


def python_comments(text: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every comment, from :mod:`tokenize` (strings are never comments)."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], tok.string
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return
