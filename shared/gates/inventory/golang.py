"""Go tests read with tree-sitter: ``func TestXxx(t *testing.T)`` in ``*_test.go`` files.

``t.Skip``/``t.Skipf``/``t.SkipNow`` are skips (constant at the top of the body); assertions are
``t.Error*``/``t.Fatal*``/``t.Fail*`` and testify's ``assert.*``/``require.*`` (vacuous with only
literal arguments, or inside ``if false``). A file whose ``//go:build`` line a plain
``go test`` does not satisfy is not collected (:mod:`shared.gates.inventory.buildtags`).
"""

from __future__ import annotations

from functools import lru_cache

from shared.gates.inventory.buildtags import build_constraint_satisfied
from shared.gates.inventory.model import Skip, TestCase
from shared.gates.inventory.streams import next_item_readers, stream_reads
from shared.gates.inventory.treesitter import (
    LITERALS,
    callee,
    early_exit,
    in_dead_branch,
    line_of,
    parse,
    references,
    shape,
    statements,
    text_of,
    walk,
)

_GO_FAIL = frozenset({"Error", "Errorf", "Fatal", "Fatalf", "Fail", "FailNow"})
_GO_SKIP = frozenset({"Skip", "Skipf", "SkipNow"})


@lru_cache(maxsize=256)
def go_tests(path: str, text: str, collected_file: bool) -> tuple[list[TestCase], bool]:
    """Every ``func TestXxx(t *testing.T)`` of a ``_test.go`` file."""
    root = parse(path, text)
    if root is None:
        return [], False
    constraint = next(
        (
            text_of(c)
            for c in root.named_children
            if c.type == "comment" and text_of(c).startswith("//go:build ")
        ),
        None,
    )
    if constraint is not None and not build_constraint_satisfied(
        constraint.removeprefix("//go:build ")
    ):
        collected_file = False
    readers = next_item_readers(root)
    out: list[TestCase] = []
    for fn in (n for n in root.named_children if n.type == "function_declaration"):
        name = text_of(fn.child_by_field_name("name"))
        params = fn.child_by_field_name("parameters")
        if not name.startswith("Test") or (len(name) > 4 and name[4].islower()) or params is None:
            continue
        t_name = next(
            (
                text_of(p.child_by_field_name("name"))
                for p in params.named_children
                if "testing.T" in text_of(p)
            ),
            None,
        )
        if t_name is None:
            continue
        body = fn.child_by_field_name("body")
        top = statements(body)
        meaningful = vacuous = 0
        skips: list[Skip] = []
        for call in (n for n in walk(body) if n.type == "call_expression") if body else ():
            obj, prop = callee(call)
            if obj == t_name and prop in _GO_SKIP:
                stmt = call.parent
                constant = stmt is not None and stmt in top
                skips.append(
                    Skip(
                        kind="skip", constant=constant, line=line_of(call), text=text_of(call)[:120]
                    )
                )
            elif (obj == t_name and prop in _GO_FAIL) or obj in ("assert", "require"):
                args = call.child_by_field_name("arguments")
                values = args.named_children[1:] if args is not None else []
                constant = (
                    obj in ("assert", "require")
                    and bool(values)
                    and all(v.type in LITERALS for v in values)
                )
                if constant or in_dead_branch(call, body):  # type: ignore[arg-type]
                    vacuous += 1
                else:
                    meaningful += 1
        out.append(
            TestCase(
                file=path,
                suite=None,
                name=name,
                line=line_of(fn),
                language="go",
                collected=collected_file,
                skips=tuple(skips),
                assertions=meaningful,
                vacuous=vacuous,
                early_exit=early_exit(top),
                references=references(body),
                shape=shape(body),
                reads=stream_reads(body, readers, t_name),
            )
        )
    return out, True
