"""JavaScript/TypeScript and Go tests, symbols and tells, read with tree-sitter (the parsers
for Java and Rust too: their tests are read in :mod:`shared.gates.inventory.jvm_rust`).

Grammars come from the maintained ``tree-sitter-javascript``, ``tree-sitter-typescript``,
``tree-sitter-go``, ``tree-sitter-java`` and ``tree-sitter-rust`` wheels. Test rules:
Jest/Mocha/Vitest/AVA ``describe``/``it``/``test`` (with ``.only``/``.skip``/``.todo``,
``xit``/``fit``), Mocha ``this.skip()``; Go ``go test``
(``func TestXxx(t *testing.T)`` in ``*_test.go``, ``t.Skip*``, ``t.Error*``/``t.Fatal*``,
testify ``assert``/``require``), Go build constraints (``//go:build``, "Build constraints" in
the go command's documentation).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache, lru_cache

import tree_sitter
import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_rust
import tree_sitter_typescript

from shared.gates.inventory.model import Tell

Node = tree_sitter.Node

LITERALS = frozenset(
    {
        "true",
        "false",
        "number",
        "string",
        "null",
        "undefined",
        "int_literal",
        "interpreted_string_literal",
        "raw_string_literal",
    }
)

_JS_TELLS = frozenset({"JEST_WORKER_ID", "VITEST", "VITEST_WORKER_ID", "NODE_TEST_CONTEXT"})


@cache
def _parser(language: str) -> tree_sitter.Parser:
    grammar = {
        "javascript": tree_sitter_javascript.language,
        "typescript": tree_sitter_typescript.language_typescript,
        "tsx": tree_sitter_typescript.language_tsx,
        "go": tree_sitter_go.language,
        "java": tree_sitter_java.language,
        "rust": tree_sitter_rust.language,
    }[language]
    return tree_sitter.Parser(tree_sitter.Language(grammar()))


def grammar_for(path: str) -> str | None:
    """The grammar that reads ``path`` (by extension), or None."""
    for ext, name in (
        (".tsx", "tsx"),
        (".ts", "typescript"),
        (".mts", "typescript"),
        (".cts", "typescript"),
        (".go", "go"),
        (".java", "java"),
        (".rs", "rust"),
    ):
        if path.endswith(ext):
            return name
    return "javascript" if path.endswith((".js", ".mjs", ".cjs", ".jsx")) else None


@lru_cache(maxsize=256)
def parse(path: str, text: str) -> Node | None:
    """The syntax tree's root, or None when the file has errors or no grammar. Cached: one file
    is read by several extractors (tests, helpers) and on both sides of a change."""
    grammar = grammar_for(path)
    if grammar is None:
        return None
    root = _parser(grammar).parse(text.encode()).root_node
    return None if root.has_error else root


def text_of(node: Node | None) -> str:
    return (node.text or b"").decode(errors="replace") if node is not None else ""


def line_of(node: Node) -> int:
    return node.start_point.row + 1


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def statements(block: Node | None) -> list[Node]:
    if block is None:
        return []
    out: list[Node] = []
    for child in block.named_children:
        if child.type == "statement_list":
            out += child.named_children
        elif child.type != "comment":
            out.append(child)
    return out


def references(body: Node | None) -> frozenset[str]:
    kinds = {"identifier", "property_identifier", "field_identifier", "type_identifier"}
    return frozenset(text_of(n) for n in walk(body) if n.type in kinds) if body else frozenset()


def calls(body: Node | None) -> frozenset[str]:
    """``name/count`` of every call in ``body`` to a plain identifier (``count`` positional
    arguments, spreads left out)."""
    out: set[str] = set()
    for node in walk(body) if body is not None else ():
        fn = node.child_by_field_name("function") if node.type == "call_expression" else None
        args = node.child_by_field_name("arguments")
        if fn is None or fn.type != "identifier" or args is None:
            continue
        if any(a.type == "spread_element" for a in args.named_children):
            continue
        named = [a for a in args.named_children if a.type != "comment"]
        out.add(f"{text_of(fn)}/{len(named)}")
    return frozenset(out)


def helpers(path: str, root: Node) -> frozenset[str]:
    """``path|name/count`` of every JavaScript/TypeScript function declaration in ``root``,
    ``count`` its parameters (declarations with a rest parameter left out)."""
    out: set[str] = set()
    for node in walk(root):
        if node.type not in ("function_declaration", "generator_function_declaration"):
            continue
        name = node.child_by_field_name("name")
        params = node.child_by_field_name("parameters")
        if name is None or params is None:
            continue
        named = [p for p in params.named_children if p.type != "comment"]
        if any(n.type == "rest_pattern" for p in named for n in walk(p)):
            continue
        out.add(f"{path}|{text_of(name)}/{len(named)}")
    return frozenset(out)


def shape(body: Node | None) -> tuple[str, ...]:
    """The body's identifiers and literals in source order (pre-order walk)."""
    kinds = {
        "identifier",
        "property_identifier",
        "field_identifier",
        "type_identifier",
        "string_fragment",
        "regex",
        "number",
        "int_literal",
        "interpreted_string_literal",
        "undefined",
        "null",
        "true",
        "false",
        "nil",
        "decimal_integer_literal",
        "decimal_floating_point_literal",
        "null_literal",
        "character_literal",
        "string_content",
        "integer_literal",
        "float_literal",
        "boolean_literal",
        "char_literal",
    }
    return tuple(text_of(n) for n in walk(body) if n.type in kinds) if body else ()


def early_exit(statements: list[Node]) -> int | None:
    for index, stmt in enumerate(statements):
        if stmt.type == "return_statement" and index < len(statements) - 1:
            return line_of(stmt)
    return None


def callee(call: Node) -> tuple[str, str]:
    """(object, property) of a call's function: ``it.only`` → (it, only); ``it`` → (it, '')."""
    fn = call.child_by_field_name("function")
    if fn is None:
        return "", ""
    if fn.type in ("member_expression", "selector_expression"):
        obj = fn.child_by_field_name("object") or fn.child_by_field_name("operand")
        prop = fn.child_by_field_name("property") or fn.child_by_field_name("field")
        return text_of(obj), text_of(prop)
    return text_of(fn), ""


def in_dead_branch(node: Node, stop: Node) -> bool:
    parent = node.parent
    while parent is not None and parent != stop:
        if parent.type == "if_statement":
            condition = parent.child_by_field_name("condition")
            inner = (
                condition.named_children[0] if condition and condition.named_children else condition
            )
            if (inner is not None and inner.type == "false") or text_of(inner) in (
                "false",
                "(false)",
            ):
                return True
        parent = parent.parent
    return False


@lru_cache(maxsize=256)
def symbols(path: str, text: str) -> frozenset[str]:
    """Functions, methods, classes and types a non-test JS/TS/Go/Java/Rust file defines."""
    root = parse(path, text)
    if root is None:
        return frozenset()
    kinds = {
        "function_declaration",
        "method_declaration",
        "class_declaration",
        "method_definition",
        "type_spec",
        "generator_function_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "constructor_declaration",
        "function_item",
        "function_signature_item",
        "struct_item",
        "enum_item",
        "trait_item",
        "type_item",
    }
    found = {text_of(n.child_by_field_name("name")) for n in walk(root) if n.type in kinds}
    found |= {
        text_of(n.child_by_field_name("name"))
        for n in walk(root)
        if n.type == "variable_declarator"
        and (v := n.child_by_field_name("value")) is not None
        and v.type in ("arrow_function", "function_expression", "function")
    }
    # ``req.param = function (...) {}``: a method assigned onto an object (Express' style).
    for node in walk(root):
        if node.type == "assignment_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            top = node.parent is not None and node.parent.parent == root
            if (
                left is not None
                and left.type == "member_expression"
                and right is not None
                and (top or right.type in ("arrow_function", "function_expression", "function"))
            ):
                found.add(text_of(left.child_by_field_name("property")))
    return frozenset(f for f in found if f)


@lru_cache(maxsize=256)
def tells(path: str, text: str) -> list[Tell]:
    """``process.env.JEST_WORKER_ID`` and friends; Go's ``testing.Testing()`` and
    ``flag.Lookup("test.v")``."""
    root = parse(path, text)
    if root is None:
        return []
    out: list[Tell] = []
    for node in walk(root):
        if node.type in ("member_expression", "subscript_expression"):
            obj = node.child_by_field_name("object")
            key = node.child_by_field_name("property") or node.child_by_field_name("index")
            if text_of(obj) == "process.env" and text_of(key).strip("'\"`") in _JS_TELLS:
                out.append(Tell(file=path, line=line_of(node), text=text_of(node)))
        elif (
            node.type in ("binary_expression", "call_expression")
            and "os.Args[0]" in text_of(node)
            and any(
                n.type == "interpreted_string_literal" and ".test" in text_of(n) for n in walk(node)
            )
        ):
            out.append(Tell(file=path, line=line_of(node), text=text_of(node)[:120]))
        if node.type == "call_expression":
            called = callee(node)
            args = node.child_by_field_name("arguments")
            if called == ("testing", "Testing") or (
                called == ("flag", "Lookup") and text_of(args).strip('()"`').startswith("test.")
            ):
                out.append(Tell(file=path, line=line_of(node), text=text_of(node)[:120]))
    return out


def comments(path: str, text: str) -> list[tuple[int, str]]:
    """(line, text) of every comment of a JS/TS/Go file."""
    root = parse(path, text)
    return [(line_of(n), text_of(n)) for n in walk(root) if n.type == "comment"] if root else []
