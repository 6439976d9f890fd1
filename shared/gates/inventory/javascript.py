"""JavaScript/TypeScript tests read with tree-sitter: Jest, Mocha, Vitest and AVA.

``describe``/``context``/``suite`` titles make the suite, ``it``/``test``/``specify`` calls the
tests (``.only``/``.skip``/``.todo``/``.failing``, ``xit``/``fit``); Mocha's ``this.skip()`` in
a body is a skip. Assertions: ``expect(...)`` (Jest/Vitest/Chai), ``assert``/``assert.*``
(Node, Chai), AVA's ``t.is``/``t.true``/..., supertest's ``.expect(...)`` and ``.should``.
"""

from __future__ import annotations

from functools import lru_cache

from shared.gates.inventory.model import Language, Skip, TestCase
from shared.gates.inventory.treesitter import (
    LITERALS,
    Node,
    callee,
    calls,
    early_exit,
    helpers,
    in_dead_branch,
    line_of,
    parse,
    references,
    shape,
    statements,
    text_of,
    walk,
)

_SUITES = frozenset({"describe", "context", "suite", "xdescribe", "fdescribe"})
_TESTS = frozenset({"it", "test", "specify", "xit", "fit", "xtest", "xspecify"})
_AVA = frozenset(
    {
        "is",
        "not",
        "true",
        "false",
        "truthy",
        "falsy",
        "deepEqual",
        "notDeepEqual",
        "like",
        "throws",
        "throwsAsync",
        "notThrows",
        "notThrowsAsync",
        "regex",
        "notRegex",
        "snapshot",
        "assert",
        "fail",
        "pass",
    }
)


def _js_assertions(body: Node) -> tuple[int, int]:
    meaningful = vacuous = 0
    for call in (n for n in walk(body) if n.type == "call_expression"):
        obj, prop = callee(call)
        args = call.child_by_field_name("arguments")
        values = args.named_children if args is not None else []
        literal = bool(values) and all(v.type in LITERALS for v in values)
        if obj == "expect" and not prop:
            chain = call.parent
            matcher = (
                chain.parent if chain is not None and chain.type == "member_expression" else None
            )
            expected = (
                matcher.child_by_field_name("arguments")
                if matcher is not None and matcher.type == "call_expression"
                else None
            )
            same = expected is not None and [text_of(v) for v in expected.named_children] == [
                text_of(v) for v in values
            ]
            vacuous_call = literal and (
                expected is None or all(v.type in LITERALS for v in expected.named_children) or same
            )
        elif (
            obj == "assert"
            or (obj.startswith("assert") and not prop)
            or (obj == "t" and prop in _AVA)
            or prop in ("expect", "should")
        ):
            if obj == "t" and prop == "pass":
                vacuous_call = True
            elif (
                prop in ("equal", "strictEqual", "deepEqual", "is", "deepStrictEqual")
                and len(values) >= 2
            ):
                vacuous_call = text_of(values[0]) == text_of(values[1])
            else:
                vacuous_call = literal and prop not in ("fail", "notOk", "false", "falsy")
        else:
            continue
        if vacuous_call or in_dead_branch(call, body):
            vacuous += 1
        else:
            meaningful += 1
    return meaningful, vacuous


def _js_body_skips(top: list[Node]) -> list[Skip]:
    out: list[Skip] = []

    def visit(nodes: list[Node], constant: bool) -> None:
        for stmt in nodes:
            expr = (
                stmt.named_children[0]
                if stmt.type == "expression_statement" and stmt.named_children
                else None
            )
            if (
                expr is not None
                and expr.type == "call_expression"
                and callee(expr) in (("this", "skip"), ("ctx", "skip"), ("t", "skip"))
            ):
                out.append(
                    Skip(
                        kind="skip", constant=constant, line=line_of(stmt), text=text_of(stmt)[:120]
                    )
                )
            if stmt.type in ("if_statement", "try_statement", "for_statement", "while_statement"):
                for child in stmt.named_children:
                    if child.type in (
                        "statement_block",
                        "else_clause",
                        "catch_clause",
                        "finally_clause",
                    ):
                        visit(
                            statements(child)
                            if child.type == "statement_block"
                            else [s for c in child.named_children for s in statements(c)],
                            False,
                        )

    visit(top, True)
    return out


@lru_cache(maxsize=256)
def js_tests(
    path: str, text: str, collected_file: bool, language: Language
) -> tuple[list[TestCase], bool]:
    """Every ``it``/``test`` call of one JS/TS file (suites from ``describe`` titles)."""
    root = parse(path, text)
    if root is None:
        return [], False
    out: list[TestCase] = []

    def title(call: Node) -> str | None:
        args = call.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_children else None
        if first is None or first.type not in ("string", "template_string"):
            return None
        return text_of(first)[1:-1]

    def callback(call: Node) -> Node | None:
        args = call.child_by_field_name("arguments")
        fns = [
            a
            for a in (args.named_children if args else [])
            if a.type in ("arrow_function", "function_expression", "function")
        ]
        return fns[-1].child_by_field_name("body") if fns else None

    def visit(node: Node, suite: list[str], inherited: list[Skip]) -> None:
        for child in node.named_children:
            if child.type == "call_expression":
                obj, prop = callee(child)
                name = title(child)
                marker: Skip | None = None
                kind = (
                    "only"
                    if prop == "only" or obj in ("fit", "fdescribe")
                    else "skip"
                    if prop in ("skip", "todo") or obj in ("xit", "xdescribe", "xtest", "xspecify")
                    else "xfail"
                    if prop == "failing"
                    else None
                )
                if kind is not None:
                    marker = Skip(
                        kind=kind,
                        constant=True,
                        line=line_of(child),
                        text=text_of(child.child_by_field_name("function")),
                    )  # type: ignore[arg-type]
                skips = inherited + ([marker] if marker else [])
                body = callback(child)
                if obj in _SUITES and name is not None and body is not None:
                    visit(
                        body,
                        [*suite, name],
                        [s.model_copy(update={"scope": "class"}) for s in skips],
                    )
                    continue
                if obj in _TESTS and name is not None:
                    top = (
                        statements(body)
                        if body is not None and body.type == "statement_block"
                        else []
                    )
                    meaningful, vacuous = _js_assertions(body) if body is not None else (0, 0)
                    out.append(
                        TestCase(
                            file=path,
                            suite="::".join(suite) or None,
                            name=name,
                            line=line_of(child),
                            language=language,
                            collected=collected_file,
                            skips=tuple(skips + _js_body_skips(top)),
                            assertions=meaningful,
                            vacuous=vacuous,
                            early_exit=early_exit(top),
                            references=references(body),
                            shape=shape(body),
                            calls=calls(body),
                        )
                    )
                    continue
            visit(child, suite, inherited)

    visit(root, [], [])
    return out, True


@lru_cache(maxsize=256)
def js_helpers(path: str, text: str) -> frozenset[str]:
    """``path|name/count`` of the functions one JS/TS test file declares (see
    :func:`shared.gates.inventory.treesitter.helpers`); empty when the file does not parse."""
    root = parse(path, text)
    return helpers(path, root) if root is not None else frozenset()
