"""Checks that read a stream item by item: a deleted one edits the expected sequence.

A test that walks an output line by line (``bufio.Scanner`` through a helper such as
``assertNextLineEquals(scanner, ".PP")``) states the output as a sequence of checks, each
reading the next item. Deleting one such check, when the next operation on that stream is
another next-item check that stays, is not a dropped check: the check that stays now reads
the item the deleted one read, so the test passes only if the stream itself changed (a
renderer's output after a dependency update). It is the sequence's expected value that
changed, the semantic kind the LLM judge's rubric asks about, not a check removed.

Only Go is read here: a *next-item reader* is a function of the same test file whose body
advances its first parameter exactly once, outside any loop, through a method that reads
one item (``Scan``, ``Next``, ``ReadLine``, ``ReadString``, ``ReadBytes``, ``ReadRune``,
``ReadByte``). A helper that loops to search the stream (``for scanner.Scan()``) is not one:
deleting a search does not shift the checks after it. A read is *checked* when it is the
initializer or condition of an ``if`` whose consequence fails the test (``t.Fatal*``,
``t.Error*``, ``t.Fail*``).
"""

from __future__ import annotations

from difflib import SequenceMatcher

from shared.gates.inventory.model import StreamRead
from shared.gates.inventory.treesitter import Node, callee, text_of, walk

_ADVANCE = frozenset(
    {"Scan", "Next", "ReadLine", "ReadString", "ReadBytes", "ReadRune", "ReadByte"}
)
_GO_FAIL = frozenset({"Error", "Errorf", "Fatal", "Fatalf", "Fail", "FailNow"})


def _inside_loop(node: Node, stop: Node) -> bool:
    current = node.parent
    while current is not None and current != stop:
        if current.type in ("for_statement", "func_literal"):
            return True
        current = current.parent
    return False


def next_item_readers(root: Node) -> frozenset[str]:
    """Names of the functions declared in a Go file (its tree-sitter ``root``) that read
    exactly one item of the stream passed as their first parameter (see the module
    docstring)."""
    out: set[str] = set()
    for fn in (n for n in root.named_children if n.type == "function_declaration"):
        params = fn.child_by_field_name("parameters")
        body = fn.child_by_field_name("body")
        first = params.named_children[0] if params is not None and params.named_children else None
        if first is None or body is None or first.child_by_field_name("name") is None:
            continue
        stream = text_of(first.child_by_field_name("name"))
        advances = [
            call
            for call in walk(body)
            if call.type == "call_expression" and callee(call)[0] == stream
            if callee(call)[1] in _ADVANCE
        ]
        if len(advances) == 1 and not _inside_loop(advances[0], body):
            out.add(text_of(fn.child_by_field_name("name")))
    return frozenset(out)


def _guarded(call: Node, t_name: str) -> int:
    """Failures of the test that ``call`` guards: the ``t.Fatal*``/``t.Error*`` calls in the
    consequence of the ``if`` whose initializer or condition holds ``call`` (0 elsewhere)."""
    current = call.parent
    # Up through the expression and the short variable declaration, never through a block:
    # a call inside the consequence guards nothing.
    while current is not None and current.type != "if_statement":
        if current.type in ("block", "statement_list", "func_literal"):
            return 0
        current = current.parent
    consequence = current.child_by_field_name("consequence") if current is not None else None
    if consequence is None:
        return 0
    return sum(
        1
        for n in walk(consequence)
        if n.type == "call_expression" and callee(n)[0] == t_name and callee(n)[1] in _GO_FAIL
    )


def _read_stream(call: Node, readers: frozenset[str]) -> str | None:
    """The stream a call to a next-item reader reads (its first argument, a variable)."""
    fn, args = call.child_by_field_name("function"), call.child_by_field_name("arguments")
    if fn is None or fn.type != "identifier" or text_of(fn) not in readers or args is None:
        return None
    first = args.named_children[0] if args.named_children else None
    return text_of(first) if first is not None and first.type == "identifier" else None


def stream_reads(body: Node | None, readers: frozenset[str], t_name: str) -> tuple[StreamRead, ...]:
    """Every operation of a Go test ``body`` on a stream that a next-item reader of
    ``readers`` reads, in source order: the reader calls (``next``, with the failures each
    guards) and any other call taking the stream as first argument or receiver."""
    if body is None or not readers:
        return ()
    calls = [n for n in walk(body) if n.type == "call_expression"]
    streams = {stream for call in calls if (stream := _read_stream(call, readers))}
    out: list[StreamRead] = []
    for call in calls:
        fn, args = call.child_by_field_name("function"), call.child_by_field_name("arguments")
        named = list(args.named_children) if args is not None else []
        receiver = callee(call)[0] if fn is not None and fn.type == "selector_expression" else ""
        if named and named[0].type == "identifier" and text_of(named[0]) in streams:
            stream, rest = text_of(named[0]), named[1:]
        elif receiver in streams:
            stream, rest = receiver, named
        else:
            continue
        is_next = fn is not None and fn.type == "identifier" and text_of(fn) in readers
        out.append(
            StreamRead(
                stream=stream,
                next=is_next,
                guards=_guarded(call, t_name) if is_next else 0,
                args=", ".join(text_of(a) for a in rest),
            )
        )
    return tuple(out)


def sequence_edits(before: tuple[StreamRead, ...], after: tuple[StreamRead, ...]) -> int:
    """The failures of ``before``'s deleted checked next-item reads that edit the expected
    sequence rather than drop a check: the next operation on the same stream, in
    ``before``, is a checked next-item read of other arguments that ``after`` keeps
    (aligned in order), and ``after`` adds or edits no operation on that stream. A read
    followed by a search or by nothing, or on a stream the head reads differently, counts
    nothing."""
    kept: set[int] = set()
    deleted: list[int] = []
    touched: set[str] = set()  # streams the head reads differently, not only less
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    for op, i, j, k, end in matcher.get_opcodes():
        if op == "equal":
            kept.update(range(i, j))
        elif op == "delete":
            deleted += range(i, j)
        else:
            touched.update(r.stream for r in (*before[i:j], *after[k:end]))
    edits = 0
    for i in deleted:
        read = before[i]
        if not read.next or not read.guards or read.stream in touched:
            continue
        follower = next(
            (n for n in range(i + 1, len(before)) if before[n].stream == read.stream), None
        )
        if follower is None or follower not in kept:
            continue
        nxt = before[follower]
        if nxt.next and nxt.guards and nxt.args != read.args:
            edits += read.guards
    return edits
