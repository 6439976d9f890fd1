"""Java and Rust tests read with tree-sitter (the ``tree-sitter-java`` and ``tree-sitter-rust``
wheels).

Java (JUnit 4 and 5): a method annotated ``@Test`` (also ``@ParameterizedTest``,
``@RepeatedTest``, ``@TestFactory``, ``@TestTemplate``); the enclosing classes are its suite.
``@Disabled``/``@Ignore`` on the method or its class are constant skips; an
``assumeTrue(false)``/``assumeFalse(true)`` (``Assumptions.``/``Assume.``) at the top of the body
is a constant skip, with any other argument a conditional one. Assertions are calls named
``assert*``, ``fail`` and ``verify``; ``assertTrue(true)``, ``assertFalse(false)`` and an
``assert*`` whose arguments are all literals are vacuous.

Rust: a function with ``#[test]`` (or an attribute path ending in ``test``, such as
``#[tokio::test]``); the enclosing ``mod`` names are its suite. ``#[ignore]`` is a constant skip;
``#[cfg(...)]`` on the test is a conditional skip, constant when it can never hold (``any()``,
``not(all())``, a ``feature``/``test`` predicate negated with ``not(test)``). Assertions are the
``assert*!``/``debug_assert*!`` macros, ``panic!`` and calls to helpers named ``assert*``
(one inside ``for`` over a literal array counts once per item); ``assert!(true)`` and macros whose
arguments are all literals are vacuous. A ``return`` before the body's last statement is an
early exit in both languages. Sources: the JUnit 5 User Guide (Annotations, Assumptions); the
Rust Reference (Testing attributes, Conditional compilation).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from shared.gates.inventory.model import Skip, TestCase
from shared.gates.inventory.treesitter import (
    Node,
    line_of,
    parse,
    references,
    shape,
    text_of,
    walk,
)

_JAVA_TESTS = frozenset(
    {"Test", "ParameterizedTest", "RepeatedTest", "TestFactory", "TestTemplate"}
)
Scope = Literal["test", "class"]
_JAVA_DISABLED = frozenset({"Disabled", "Ignore"})
_JAVA_ASSUME = frozenset({"assumeTrue", "assumeFalse", "assumingThat"})
_JAVA_LITERALS = frozenset(
    {
        "true",
        "false",
        "null_literal",
        "decimal_integer_literal",
        "decimal_floating_point_literal",
        "string_literal",
        "character_literal",
    }
)
_RUST_LITERALS = frozenset(
    {"boolean_literal", "integer_literal", "float_literal", "string_literal", "char_literal"}
)


def _annotations(node: Node) -> list[Node]:
    mods = next((c for c in node.named_children if c.type == "modifiers"), None)
    if mods is None:
        return []
    return [a for a in mods.named_children if a.type in ("marker_annotation", "annotation")]


def _annotation_name(node: Node) -> str:
    name = node.child_by_field_name("name")
    return text_of(name).rsplit(".", 1)[-1]


def _body_statements(body: Node | None) -> list[Node]:
    if body is None:
        return []
    return [c for c in body.named_children if c.type not in ("line_comment", "block_comment")]


def _early_exit(top: list[Node]) -> int | None:
    for index, stmt in enumerate(top):
        inner = stmt.named_children[0] if stmt.type == "expression_statement" else stmt
        if (
            inner is not None
            and inner.type in ("return_statement", "return_expression")
            and index < len(top) - 1
        ):
            return line_of(stmt)
    return None


def _case(
    path: str,
    suite: list[str],
    node: Node,
    language: Literal["java", "rust"],
    skips: list[Skip],
    counted: tuple[int, int, tuple[str, ...]],
) -> TestCase:
    """The :class:`TestCase` of one test method/function ``node`` (its ``name`` and ``body``
    fields); ``counted`` is ``(meaningful, vacuous, checks)`` from the language's assertion
    counter."""
    body = node.child_by_field_name("body")
    meaningful, vacuous, checks = counted
    return TestCase(
        file=path,
        suite="::".join(suite) or None,
        name=text_of(node.child_by_field_name("name")),
        line=line_of(node),
        language=language,
        skips=tuple(skips),
        assertions=meaningful,
        vacuous=vacuous,
        early_exit=_early_exit(_body_statements(body)),
        references=references(body),
        shape=shape(body),
        checks=checks,
    )


def _check(node: Node) -> str:
    return " ".join(text_of(node).split())


def _java_assertions(body: Node | None) -> tuple[int, int, tuple[str, ...]]:
    meaningful = vacuous = 0
    checks: list[str] = []
    for call in (n for n in walk(body) if n.type == "method_invocation") if body else ():
        name = text_of(call.child_by_field_name("name"))
        if not (name.startswith("assert") or name in ("fail", "verify")):
            continue
        args = call.child_by_field_name("arguments")
        values = [a for a in args.named_children if "comment" not in a.type] if args else []
        if (name, [text_of(v) for v in values]) in (
            ("assertTrue", ["true"]),
            ("assertFalse", ["false"]),
        ) or (
            # ``fail("msg")`` and Truth's ``assertWithMessage("msg").that(x)...``: the literal
            # is a message, not the subject.
            name not in ("fail", "assertWithMessage", "assertAbout")
            and bool(values)
            and all(v.type in _JAVA_LITERALS for v in values)
        ):
            vacuous += 1
        else:
            meaningful += 1
            checks.append(_check(_chain(call)))
    return meaningful, vacuous, tuple(checks)


def _chain(call: Node) -> Node:
    """The whole fluent assertion ``call`` starts (Truth's and AssertJ's
    ``assertThat(x).isInstanceOf(Y.class)``): what it checks is in the calls made on it."""
    while (
        call.parent is not None
        and call.parent.type == "method_invocation"
        and call.parent.child_by_field_name("object") == call
    ):
        call = call.parent
    return call


def _java_skips(annotations: list[Node], top: list[Node], scope: Scope) -> list[Skip]:
    out = [
        Skip(kind="skip", constant=True, scope=scope, line=line_of(a), text=text_of(a)[:120])
        for a in annotations
        if _annotation_name(a) in _JAVA_DISABLED
    ]
    for index, stmt in enumerate(top):
        call = stmt.named_children[0] if stmt.type == "expression_statement" else None
        if call is None or call.type != "method_invocation":
            continue
        name = text_of(call.child_by_field_name("name"))
        if name not in _JAVA_ASSUME:
            continue
        args = call.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_children else None
        never = (name, text_of(first)) in (("assumeTrue", "false"), ("assumeFalse", "true"))
        out.append(
            Skip(
                kind="skip",
                constant=never and index == 0,
                line=line_of(call),
                text=text_of(call)[:120],
            )
        )
    return out


@lru_cache(maxsize=256)
def java_tests(path: str, text: str) -> tuple[list[TestCase], bool]:
    """Every JUnit test method of one Java file, and whether the file parsed."""
    root = parse(path, text)
    if root is None:
        return [], False
    out: list[TestCase] = []

    def visit(node: Node, suite: list[str], inherited: list[Skip]) -> None:
        for child in node.named_children:
            if child.type in ("class_declaration", "enum_declaration", "record_declaration"):
                name = text_of(child.child_by_field_name("name"))
                marks = _java_skips(_annotations(child), [], "class")
                body = child.child_by_field_name("body")
                if body is not None:
                    visit(body, [*suite, name], inherited + marks)
            elif child.type == "method_declaration":
                annotations = _annotations(child)
                if not any(_annotation_name(a) in _JAVA_TESTS for a in annotations):
                    continue
                body = child.child_by_field_name("body")
                skips = inherited + _java_skips(annotations, _body_statements(body), "test")
                out.append(_case(path, suite, child, "java", skips, _java_assertions(body)))

    visit(root, [], [])
    return out, True


def _attributes(item: Node) -> list[Node]:
    """The ``#[...]`` attribute items just before ``item`` (its outer attributes)."""
    out: list[Node] = []
    sibling = item.prev_named_sibling
    while sibling is not None and sibling.type in ("attribute_item", "line_comment"):
        if sibling.type == "attribute_item":
            attribute = next((c for c in sibling.named_children if c.type == "attribute"), None)
            if attribute is not None:
                out.append(attribute)
        sibling = sibling.prev_named_sibling
    return out


def _attribute_name(attribute: Node) -> str:
    path = next(
        (c for c in attribute.named_children if c.type in ("identifier", "scoped_identifier")),
        None,
    )
    return text_of(path)


def _cfg_never(predicate: str) -> bool:
    """Whether a ``cfg`` predicate can never hold in a ``cargo test`` build."""
    compact = "".join(predicate.split())
    return compact in ("any()", "not(all())", "not(test)", "all(test,not(test))")


def _rust_skips(attributes: list[Node], scope: Scope) -> list[Skip]:
    out: list[Skip] = []
    for attribute in attributes:
        name = _attribute_name(attribute)
        if name == "ignore":
            out.append(
                Skip(
                    kind="skip",
                    constant=True,
                    scope=scope,
                    line=line_of(attribute),
                    text=f"#[{text_of(attribute)}]",
                )
            )
        elif name == "cfg" and scope == "test":
            args = next((c for c in attribute.named_children if c.type == "token_tree"), None)
            predicate = text_of(args)[1:-1] if args is not None else ""
            out.append(
                Skip(
                    kind="skip",
                    constant=_cfg_never(predicate),
                    line=line_of(attribute),
                    text=f"#[{text_of(attribute)}]"[:120],
                )
            )
    return out


def _runs(node: Node, body: Node | None) -> int:
    """How many times an assertion runs per test run: once, times the length of each literal
    array (``for s in &["x", "X"]``) its enclosing ``for`` loops iterate."""
    runs = 1
    parent = node.parent
    while parent is not None and parent != body:
        if parent.type == "for_expression":
            value = parent.child_by_field_name("value")
            if value is not None and value.type == "reference_expression":
                value = value.child_by_field_name("value")
            if value is not None and value.type == "array_expression":
                runs *= max(len(value.named_children), 1)
        parent = parent.parent
    return runs


def _rust_assertions(body: Node | None) -> tuple[int, int, tuple[str, ...]]:
    meaningful = vacuous = 0
    found: list[Node] = []
    for macro in (n for n in walk(body) if n.type == "macro_invocation") if body else ():
        name = text_of(macro.child_by_field_name("macro")).rsplit("::", 1)[-1]
        if not (name.startswith(("assert", "debug_assert")) or name == "panic"):
            continue
        tree = next((c for c in macro.named_children if c.type == "token_tree"), None)
        values = list(tree.named_children) if tree is not None else []
        if name != "panic" and values and all(v.type in _RUST_LITERALS for v in values):
            vacuous += 1
        else:
            meaningful += _runs(macro, body)
            found.append(macro)
    # Helper functions named ``assert_*`` (``assert_to_string(parsed, "^1.2.3")``).
    for call in (n for n in walk(body) if n.type == "call_expression") if body else ():
        name = text_of(call.child_by_field_name("function")).rsplit("::", 1)[-1]
        if name.startswith("assert"):
            meaningful += _runs(call, body)
            found.append(call)
    found.sort(key=lambda n: n.start_byte)
    # An assertion run once per item of a loop stands for that many checks.
    return meaningful, vacuous, tuple(_check(n) for n in found for _ in range(_runs(n, body)))


@lru_cache(maxsize=256)
def rust_tests(path: str, text: str) -> tuple[list[TestCase], bool]:
    """Every ``#[test]`` function of one Rust file (in ``tests/`` or a ``#[cfg(test)]``
    module of a source file), and whether the file parsed."""
    root = parse(path, text)
    if root is None:
        return [], False
    out: list[TestCase] = []

    def visit(node: Node, suite: list[str]) -> None:
        for child in node.named_children:
            if child.type == "mod_item":
                body = child.child_by_field_name("body")
                if body is not None:
                    visit(body, [*suite, text_of(child.child_by_field_name("name"))])
            elif child.type == "function_item":
                attributes = _attributes(child)
                names = [_attribute_name(a) for a in attributes]
                if not any(n == "test" or n.endswith("::test") for n in names):
                    continue
                body = child.child_by_field_name("body")
                skips = _rust_skips(attributes, "test")
                out.append(_case(path, suite, child, "rust", skips, _rust_assertions(body)))

    visit(root, [])
    return out, True
