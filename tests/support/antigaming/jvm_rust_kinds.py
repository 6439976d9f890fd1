"""Gaming edits of Java (JUnit) and Rust tests, located with tree-sitter."""

from __future__ import annotations

from collections.abc import Callable

from shared.gates.inventory.treesitter import Node, parse, walk
from tests.support.antigaming import Files, Mutation, _targets

Edit = Callable[[str, Node], str | None]


def _text(node: Node | None) -> str:
    return (node.text or b"").decode() if node is not None else ""


def _tests(file: str, text: str) -> list[tuple[Node, str]]:
    """(method or function node, name) of the JUnit/``#[test]`` tests of ``text``."""
    root = parse(file, text)
    if root is None:
        return []
    out: list[tuple[Node, str]] = []
    for node in walk(root):
        if node.type == "method_declaration":
            mods = next((c for c in node.named_children if c.type == "modifiers"), None)
            names = {
                _text(a.child_by_field_name("name")).rsplit(".", 1)[-1]
                for a in (mods.named_children if mods else [])
            }
            if "Test" in names:
                out.append((node, _text(node.child_by_field_name("name"))))
        elif node.type == "function_item" and any(
            _text(a) in ("#[test]", "#[tokio::test]") for a in _attributes(node)
        ):
            out.append((node, _text(node.child_by_field_name("name"))))
    return out


def _attributes(item: Node) -> list[Node]:
    out: list[Node] = []
    sibling = item.prev_named_sibling
    while sibling is not None and sibling.type == "attribute_item":
        out.append(sibling)
        sibling = sibling.prev_named_sibling
    return out


def _splice(text: str, start: int, end: int, new: str) -> str:
    data = text.encode()
    return (data[:start] + new.encode() + data[end:]).decode()


def _mutation(edit: Edit, language: str) -> Mutation:
    def mutate(base: Files, head: Files) -> Files | None:
        for file, name in _targets(base, head, language):
            for node, found in _tests(file, head[file]):
                if found == name and (text := edit(head[file], node)) is not None:
                    return {**head, file: text}
        return None

    return mutate


def _delete(text: str, node: Node) -> str:
    attributes = _attributes(node) if node.type == "function_item" else []
    start = min([node.start_byte, *(a.start_byte for a in attributes)])
    return _splice(text, start, node.end_byte, "")


def _assertion(node: Node) -> Node | None:
    body = node.child_by_field_name("body")
    for stmt in walk(body) if body is not None else ():
        if stmt.type != "expression_statement" or not stmt.named_children:
            continue
        inner = stmt.named_children[0]
        name = ""
        if inner.type == "method_invocation":
            # the head of a chain: ``assertThat(x).isEqualTo(y)`` is named by ``assertThat``
            head = inner
            while (obj := head.child_by_field_name("object")) is not None and (
                obj.type == "method_invocation"
            ):
                head = obj
            name = _text(head.child_by_field_name("name"))
        elif inner.type == "macro_invocation":
            name = _text(inner.child_by_field_name("macro"))
        elif inner.type == "call_expression":
            name = _text(inner.child_by_field_name("function")).rsplit("::", 1)[-1]
        if name.startswith("assert"):
            return stmt
    return None


def _assert(kind: str) -> Edit:
    def edit(text: str, node: Node) -> str | None:
        stmt = _assertion(node)
        if stmt is None:
            return None
        rust = node.type == "function_item"
        if kind == "delete":
            new = "" if rust else ";"
        elif kind == "comment":
            new = "\n".join("// " + ln for ln in _text(stmt).splitlines())
        else:
            new = "assert!(true);" if rust else "assertTrue(true);"
        return _splice(text, stmt.start_byte, stmt.end_byte, new)

    return edit


def _before(marker: str) -> Edit:
    """Puts ``marker`` on its own line just before the test's name-bearing declaration."""

    def edit(text: str, node: Node) -> str | None:
        return _splice(text, node.start_byte, node.start_byte, marker + "\n")

    return edit


def _first_statement(new: str) -> Edit:
    def edit(text: str, node: Node) -> str | None:
        body = node.child_by_field_name("body")
        stmts = [c for c in body.named_children if "comment" not in c.type] if body else []
        if not stmts:
            return None
        return _splice(text, stmts[0].start_byte, stmts[0].start_byte, new + "\n")

    return edit


KINDS: dict[str, Mutation] = {
    "java_test_deleted": _mutation(_delete, "java"),
    "java_assert_deleted": _mutation(_assert("delete"), "java"),
    "java_assert_commented": _mutation(_assert("comment"), "java"),
    "java_assert_vacuous": _mutation(_assert("vacuous"), "java"),
    "java_disabled": _mutation(_before('@Disabled("flaky")'), "java"),
    "java_assume_false": _mutation(_first_statement("Assumptions.assumeTrue(false);"), "java"),
    "rust_test_deleted": _mutation(_delete, "rust"),
    "rust_assert_deleted": _mutation(_assert("delete"), "rust"),
    "rust_assert_commented": _mutation(_assert("comment"), "rust"),
    "rust_assert_vacuous": _mutation(_assert("vacuous"), "rust"),
    "rust_ignore": _mutation(_before("#[ignore]"), "rust"),
    "rust_cfg_never": _mutation(_before("#[cfg(any())]"), "rust"),
    "rust_early_return": _mutation(_first_statement("return;"), "rust"),
}
