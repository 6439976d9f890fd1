"""What source code takes from outside itself: the names it imports and the environment
variables it reads, and the environment variables a test sets or reads.

A test removed together with the code it exercises is legitimate (issue 11); the code it
exercises is not always a definition of the change's files: a change can stop importing a
class (Gson's ``LinkedTreeMap`` no longer picked for ``Map<String, ...>``) or stop reading an
environment variable (httpx's client no longer reading ``NETRC``), and the tests that drove
that use go with it. Environment variables are named ``$NAME`` so they never meet a Python or
Java name.

Read with :mod:`ast` (Python: ``from m import Name``, ``os.environ[...]``,
``os.environ.get``/``setdefault``/``pop``, ``os.getenv``/``putenv``/``unsetenv``,
``"NAME" in os.environ``, pytest's ``monkeypatch.setenv``/``delenv``,
``monkeypatch.setitem(os.environ, ...)``, ``mock.patch.dict(os.environ, {...})``) and
tree-sitter (Java single-type ``import a.b.Name;``).
"""

from __future__ import annotations

import ast
from functools import lru_cache

from shared.gates.inventory.treesitter import parse, text_of, walk

_ENV_CALLS = ("getenv", "putenv", "unsetenv", "setenv", "delenv")
_ENV_METHODS = ("get", "setdefault", "pop")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _environ(node: ast.AST) -> bool:
    """Whether ``node`` is the process environment (``os.environ``, ``environ``)."""
    return _dotted(node).rsplit(".", 1)[-1] == "environ"


def _text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        return node.value
    return None


def environment(nodes: list[ast.stmt] | ast.Module) -> frozenset[str]:
    """``$NAME`` of every environment variable the code reads, sets or removes by a literal
    name (see the module docstring for the spellings)."""
    roots = nodes.body if isinstance(nodes, ast.Module) else nodes
    names: set[str | None] = set()
    for node in (n for stmt in roots for n in ast.walk(stmt)):
        if isinstance(node, ast.Subscript) and _environ(node.value):
            names.add(_text(node.slice))
        elif isinstance(node, ast.Compare) and any(_environ(c) for c in node.comparators):
            names.add(_text(node.left))
        elif isinstance(node, ast.Call):
            leaf = _dotted(node.func).rsplit(".", 1)[-1]
            owner = node.func.value if isinstance(node.func, ast.Attribute) else None
            first = node.args[0] if node.args else None
            if leaf in _ENV_CALLS or (
                leaf in _ENV_METHODS and owner is not None and _environ(owner)
            ):
                names.add(_text(first))
            elif leaf in ("setitem", "delitem") and first is not None and _environ(first):
                names.add(_text(node.args[1]) if len(node.args) > 1 else None)
            elif leaf == "dict" and first is not None and _environ(first):
                values = [*node.args[1:2], *(k.value for k in node.keywords if k.arg == "values")]
                for value in values:
                    if isinstance(value, ast.Dict):
                        names |= {_text(k) for k in value.keys}
                names |= {k.arg for k in node.keywords if k.arg not in (None, "values", "clear")}
    return frozenset(f"${n}" for n in names if n)


@lru_cache(maxsize=256)
def python_interface(text: str) -> frozenset[str]:
    """The names a non-test Python module imports with ``from m import Name`` (modules
    imported whole are left out: ``os`` names no behaviour) and the ``$NAME`` of the
    environment variables it uses; empty when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return frozenset()
    imported = {
        a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for a in node.names
        if a.name != "*"
    }
    return frozenset(imported) | environment(tree)


@lru_cache(maxsize=256)
def java_interface(path: str, text: str) -> frozenset[str]:
    """The simple names of a Java file's single-type imports (``import a.b.Name;`` and
    ``import static a.B.name;``; on-demand ``.*`` imports name nothing)."""
    root = parse(path, text)
    if root is None:
        return frozenset()
    out: set[str] = set()
    for node in walk(root):
        if node.type == "import_declaration" and not any(
            c.type == "asterisk" for c in node.children
        ):
            target = next(
                (c for c in node.named_children if c.type in ("scoped_identifier", "identifier")),
                None,
            )
            if target is not None:
                out.add(text_of(target).rsplit(".", 1)[-1])
    return frozenset(out)
