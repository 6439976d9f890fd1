"""Gaming edits of Python tests and pytest configuration, located with :mod:`ast`."""

from __future__ import annotations

import ast
import json
import tomllib
from collections.abc import Callable

from tests.support.antigaming import Files, Mutation, _indent, _lines_replace, _targets

# --- Python -----------------------------------------------------------------------------------


def _py_function(text: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def _py_assertion(fn: ast.AST) -> ast.stmt | None:
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return node
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            leaf = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if leaf.startswith("assert"):
                return node
    return None


def _py_header_end(tree: ast.Module) -> int:
    """The line after the docstring, ``__future__`` imports and other imports."""
    end = 0
    for stmt in tree.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and end == 0
        ):
            end = stmt.end_lineno or stmt.lineno
        else:
            break
    return end


def _py_module_insert(text: str, new: list[str]) -> str:
    tree = ast.parse(text)
    line = _py_header_end(tree)
    lines = text.splitlines()
    return "\n".join(lines[:line] + new + lines[line:]) + "\n"


def _py(edit: Callable[[str, ast.FunctionDef | ast.AsyncFunctionDef], str | None]) -> Mutation:
    def mutate(base: Files, head: Files) -> Files | None:
        for file, name in _targets(base, head, "python"):
            fn = _py_function(head[file], name)
            if fn is not None and (text := edit(head[file], fn)) is not None:
                return {**head, file: text}
        return None

    return mutate


def _py_assert_edit(
    kind: str,
) -> Callable[[str, ast.FunctionDef | ast.AsyncFunctionDef], str | None]:
    def edit(text: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
        stmt = _py_assertion(fn)
        if stmt is None:
            return None
        lines = text.splitlines()
        start, end = stmt.lineno, stmt.end_lineno or stmt.lineno
        pad = _indent(lines[start - 1])
        if kind == "delete":
            new = [pad + "pass"]
        elif kind == "comment":
            new = [pad + "# " + ln[len(pad) :] for ln in lines[start - 1 : end]] + [pad + "pass"]
        elif kind == "or_true" and isinstance(stmt, ast.Assert):
            new = [pad + f"assert ({ast.unparse(stmt.test)}) or True"]
        else:
            new = [pad + "assert True"]
        return _lines_replace(text, start, end, new)

    return edit


def _py_first_body_line(text: str, fn: ast.FunctionDef | ast.AsyncFunctionDef, new: str) -> str:
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(fn.body) > 1:
        first = fn.body[1]
    start = min([first.lineno, *[d.lineno for d in getattr(first, "decorator_list", [])]])
    lines = text.splitlines()
    pad = _indent(lines[start - 1])
    return "\n".join([*lines[: start - 1], pad + new, *lines[start - 1 :]]) + "\n"


def _py_decorate(decorator: str, imports: str) -> Callable[..., str]:
    def edit(text: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        line = fn.decorator_list[0].lineno if fn.decorator_list else fn.lineno
        lines = text.splitlines()
        pad = _indent(lines[line - 1])
        text = "\n".join([*lines[: line - 1], pad + decorator, *lines[line - 1 :]]) + "\n"
        return _py_module_insert(text, [imports])

    return edit


def _py_delete(text: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    start = fn.decorator_list[0].lineno if fn.decorator_list else fn.lineno
    return _lines_replace(text, start, fn.end_lineno or fn.lineno, [])


def _py_module(new: list[str]) -> Mutation:
    def mutate(base: Files, head: Files) -> Files | None:
        for file, _ in _targets(base, head, "python"):
            return {**head, file: _py_module_insert(head[file], new)}
        return None

    return mutate


def _py_rename(base: Files, head: Files) -> Files | None:
    for file, _ in _targets(base, head, "python"):
        folder, _, name = file.rpartition("/")
        renamed = f"{folder}/{name.removeprefix('test_').removesuffix('.py')}_checks.py"
        return {**{k: v for k, v in head.items() if k != file}, renamed.lstrip("/"): head[file]}
    return None


def _pytest_option(option: Callable[[str, str], str]) -> Mutation:
    """Adds one option to pytest's ``addopts`` in pyproject.toml (a new table when absent)."""

    def mutate(base: Files, head: Files) -> Files | None:
        targets = _targets(base, head, "python")
        if not targets or "pyproject.toml" not in head:
            return None
        value = option(*targets[0])
        text = head["pyproject.toml"]
        table = tomllib.loads(text).get("tool", {}).get("pytest", {}).get("ini_options", {})
        current = table.get("addopts")
        if isinstance(current, str):
            lines = text.splitlines()
            index = next(i for i, ln in enumerate(lines) if ln.startswith("addopts"))
            if not lines[index].rstrip().endswith(('"', "'")):
                return None  # a multi-line string: left alone
            lines[index] = f"addopts = {json.dumps(current + ' ' + value)}"
            text = "\n".join(lines) + "\n"
        elif current is not None:
            return None
        elif "[tool.pytest.ini_options]" in text:
            text = text.replace(
                "[tool.pytest.ini_options]",
                f"[tool.pytest.ini_options]\naddopts = {json.dumps(value)}",
                1,
            )
        else:
            text += f"\n[tool.pytest.ini_options]\naddopts = {json.dumps(value)}\n"
        return {**head, "pyproject.toml": text}

    return mutate


def _conftest_ignore(base: Files, head: Files) -> Files | None:
    for file, _ in _targets(base, head, "python"):
        folder, _, name = file.rpartition("/")
        conftest = f"{folder}/conftest.py" if folder else "conftest.py"
        text = head.get(conftest, "")
        return {**head, conftest: text + f"\ncollect_ignore = [{name!r}]\n"}
    return None
