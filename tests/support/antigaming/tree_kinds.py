"""Gaming edits of JavaScript/TypeScript and Go tests, located with tree-sitter."""

from __future__ import annotations

from collections.abc import Callable

from shared.gates.inventory.treesitter import Node, parse
from tests.support.antigaming import Files, Mutation, _targets

# --- JavaScript/TypeScript and Go (tree-sitter) -------------------------------------------------


def _ts_tests(file: str, text: str) -> list[tuple[Node, str]]:
    """(call or function node, name) of the tests tree-sitter finds in ``text``."""
    root = parse(file, text)
    if root is None:
        return []
    out: list[tuple[Node, str]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type == "function_declaration" and file.endswith(".go"):
            name = (node.child_by_field_name("name").text or b"").decode()  # type: ignore[union-attr]
            out.append((node, name))
        elif node.type == "call_expression" and not file.endswith(".go"):
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is not None and fn.text in (b"it", b"test") and args and args.named_children:
                title = args.named_children[0]
                if title.type in ("string", "template_string"):
                    out.append((node, (title.text or b"").decode()[1:-1]))
    return out


def _body(node: Node) -> Node | None:
    if node.type == "function_declaration":
        return node.child_by_field_name("body")
    args = node.child_by_field_name("arguments")
    fns = [
        a
        for a in (args.named_children if args else [])
        if a.type in ("arrow_function", "function_expression", "function")
    ]
    body = fns[-1].child_by_field_name("body") if fns else None
    return body if body is not None and body.type == "statement_block" else None


def _splice(text: str, start: int, end: int, new: str) -> str:
    data = text.encode()
    return (data[:start] + new.encode() + data[end:]).decode()


def _ts(edit: Callable[[str, Node, str], str | None], language: str) -> Mutation:
    def mutate(base: Files, head: Files) -> Files | None:
        for file, name in _targets(base, head, language):
            for node, found in _ts_tests(file, head[file]):
                if found == name and (text := edit(head[file], node, file)) is not None:
                    return {**head, file: text}
        return None

    return mutate


def _first_statement(text: str, node: Node, new: str) -> str | None:
    body = _body(node)
    if body is None or not body.named_children:
        return None
    first = body.named_children[0]
    if first.type == "statement_list":
        first = first.named_children[0]
    return _splice(text, first.start_byte, first.start_byte, new + "\n")


def _assertion_statement(node: Node, go: bool) -> Node | None:
    body = _body(node)
    stack = list(reversed(body.named_children)) if body is not None else []
    while stack:
        current = stack.pop()
        if current.type == "expression_statement":
            source = (current.text or b"").decode()
            markers = (
                ("t.Error", "t.Fatal", "assert.", "require.")
                if go
                else (
                    "expect(",
                    "assert",
                    ".expect(",
                    "t.is(",
                    "t.true(",
                    "t.deepEqual(",
                    "t.false(",
                    "t.throws",
                    "t.like(",
                    "t.regex(",
                    "t.truthy(",
                    ".should",
                )
            )
            if any(m in source for m in markers):
                return current
        stack.extend(reversed(current.named_children))
    return None


def _ts_assert(kind: str, go: bool) -> Callable[[str, Node, str], str | None]:
    def edit(text: str, node: Node, file: str) -> str | None:
        stmt = _assertion_statement(node, go)
        if stmt is None:
            return None
        source = (stmt.text or b"").decode()
        if kind == "delete":
            new = ";" if not go else ""
        elif kind == "comment":
            new = "\n".join("// " + ln for ln in source.splitlines())
        elif go:
            new = "if false {\n" + source + "\n}"
        else:
            new = "assert.ok(true);" if "assert" in source else "expect(true).toBe(true);"
            if source.startswith("t."):
                new = "t.pass();"
        return _splice(text, stmt.start_byte, stmt.end_byte, new)

    return edit


def _ts_delete(text: str, node: Node, file: str) -> str:
    target = (
        node.parent
        if node.parent is not None and node.parent.type == "expression_statement"
        else node
    )
    return _splice(text, target.start_byte, target.end_byte, "")


def _js_marker(marker: str) -> Callable[[str, Node, str], str | None]:
    def edit(text: str, node: Node, file: str) -> str | None:
        fn = node.child_by_field_name("function")
        if fn is None:
            return None
        return _splice(text, fn.start_byte, fn.end_byte, f"{(fn.text or b'').decode()}.{marker}")

    return edit


def _go_build_tag(base: Files, head: Files) -> Files | None:
    for file, _ in _targets(base, head, "go"):
        return {**head, file: "//go:build integration\n\n" + head[file]}
    return None


def _go_rename(base: Files, head: Files) -> Files | None:
    for file, _ in _targets(base, head, "go"):
        renamed = file.removesuffix("_test.go") + "_tests.go"
        return {**{k: v for k, v in head.items() if k != file}, renamed: head[file]}
    return None


def _js_delete_file(base: Files, head: Files) -> Files | None:
    for language in ("python", "js", "go"):
        for file, _ in _targets(base, head, language):
            return {k: v for k, v in head.items() if k != file}
    return None
