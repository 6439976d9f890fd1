"""When a test or an assertion that disappears checks nothing the change still has.

Rules (issue 11 "What to build": "a test removed together with the code it exercises ... is
a legitimate removal"), each a reading of both inventories:

* it never ran: a constant skip (``describe.skip``, ``@pytest.mark.skip``, ``@Disabled``)
  held it on the base side, so removing it removes no check;
* a test that stays in its file does all it did and only asserts more: its body (at least
  ``2 * _GRAM`` names and literals) appears whole and in order in the other's body, which
  adds at most ``_INSERTIONS`` passages to it, each starting an assertion (``expect``,
  ``assert*``), never a step that changes what is checked (literals compared without case, as
  ``content-type`` and ``Content-Type`` name one header), and that test asserts at least as
  much;
* it goes with the code it exercises: a symbol it references, or that its name spells, is
  defined on the base side and no longer on the head side; or it sets an environment
  variable no source file reads any more, or one of its assertions names a name the change
  takes out of the source (a definition removed, a name no source file imports any more),
  and no test of the head side uses that variable or name (only where the reader keeps each
  assertion's source: Java and Rust); a test that merely uses a removed name on its way to
  what it checks should have been ported like its siblings, and stays a finding;
* it calls a helper of its file with an argument the head's helper no longer takes (the mode
  it drove is gone, as when a fix is reverted with its tests);
* new tests (in its file or another) carry most of its body between them with at least as
  many assertions (a split or a merge), or a new test with at least one assertion reads
  nearly the same (a rewrite); every case of a parametrized test lives on in a new one.

An assertion deleted from a test that stays is legitimate on the same ground: every deleted
assertion names a name gone with the code (only where the reader keeps each assertion's
source: Java and Rust).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from shared.gates.inventory.model import Inventory, TestCase

_REWRITE_RATIO = 0.85
_CARRIED_RATIO = 0.8
_GRAM = 4
_INSERTIONS = 2
_GENERIC = frozenset({"test", "tests", "get", "set", "should", "the", "and", "with", "when"})
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


def _words(name: str) -> set[str]:
    words = re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", name)
    return {w.lower() for w in words if len(w) > 2} - _GENERIC


def _similar(a: TestCase, b: TestCase) -> bool:
    return SequenceMatcher(None, a.shape, b.shape, autojunk=False).ratio() >= _REWRITE_RATIO


def arities(helpers: frozenset[str]) -> dict[tuple[str, str], int]:
    """``(file, name) → positional parameters`` of an inventory's ``helpers``."""
    out: dict[tuple[str, str], int] = {}
    for helper in helpers:
        file, _, signature = helper.partition("|")
        name, _, count = signature.rpartition("/")
        out[(file, name)] = int(count)
    return out


def helper_narrowed(
    test: TestCase, before: dict[tuple[str, str], int], after: dict[tuple[str, str], int]
) -> bool:
    """Whether ``test`` calls a helper of its file with an argument the change takes away:
    the base helper accepted it, the head helper has fewer parameters (the path the test
    drove, a mode or flag, is removed with it)."""
    for call in test.calls:
        name, _, count = call.rpartition("/")
        was, now = before.get((test.file, name)), after.get((test.file, name))
        if was is not None and now is not None and now < int(count) <= was:
            return True
    return False


def _grams(shape: tuple[str, ...]) -> set[tuple[str, ...]]:
    return {shape[i : i + _GRAM] for i in range(max(len(shape) - _GRAM + 1, 0))}


def _carried(old: TestCase, new: list[TestCase]) -> bool:
    """Whether new tests of the change carry ``old``'s body between them (a test split into
    several, or tests merged into one, in its file or another): most of its runs of
    ``_GRAM`` names and literals reappear in them, and they assert at least as much."""
    grams = _grams(old.shape)
    if not grams:
        return False
    carriers = [c for c in new if c.assertions and _grams(c.shape) & grams]
    carried = set().union(*(_grams(c.shape) for c in carriers)) & grams
    return (
        len(carried) >= _CARRIED_RATIO * len(grams)
        and sum(c.assertions for c in carriers) >= old.assertions
    )


def never_ran(test: TestCase) -> bool:
    """Whether a constant skip (not an expected failure: that one runs) held ``test``."""
    return any(s.kind == "skip" and s.constant for s in test.skips)


def _asserting(token: str) -> bool:
    """Whether a body token starts an assertion (``expect(...)``, ``assertThat(...)``,
    ``self.assertEqual(...)``, ``should``, ``verify``)."""
    return token.startswith("assert") or token in ("expect", "should", "verify")


def _slid(tokens: list[str], start: int, end: int) -> list[str]:
    """The passage ``tokens[start:end]`` inserted into a sequence, slid back to the earliest
    place that gives the same result: inserting ``b c a`` after ``a`` is inserting ``a b c``
    before it, and a diff picks among such alignments arbitrarily."""
    while start > 0 and tokens[start - 1] == tokens[end - 1]:
        start, end = start - 1, end - 1
    return tokens[start:end]


def subsumed(test: TestCase, head: Inventory) -> bool:
    """Whether a test of the head side in ``test``'s file does all ``test`` did and only
    asserts more (see the module docstring): a duplicate removed, not a check."""
    if len(test.shape) < 2 * _GRAM:
        return False
    shape = [token.casefold() for token in test.shape]
    for other in head.tests:
        if other.file != test.file or other.assertions < test.assertions or not other.collected:
            continue
        wider = [t.casefold() for t in other.shape]
        opcodes = SequenceMatcher(None, shape, wider, False).get_opcodes()
        added = [_slid(wider, k, end) for op, _, _, k, end in opcodes if op != "equal"]
        if (
            all(op in ("equal", "insert") for op, *_ in opcodes)
            and len(added) <= _INSERTIONS
            and all(_asserting(passage[0]) for passage in added)
        ):
            return True
    return False


def gone_names(base: Inventory, head: Inventory) -> frozenset[str]:
    """Names the change takes out of the source and out of every test of the head side: a
    definition removed, a name imported or an environment variable used on the base side
    only, that no test of the head side references."""
    referenced = set().union(*(t.references for t in head.tests))
    taken = (base.symbols - head.symbols) | (base.interface - head.interface - head.symbols)
    return frozenset(taken - referenced)


def checks_gone(lost: list[str], gone: frozenset[str]) -> bool:
    """Whether every assertion in ``lost`` (its source) names one of the ``gone`` names."""
    return bool(lost) and all(set(_IDENTIFIER.findall(check)) & gone for check in lost)


def removed_with_code(
    test: TestCase,
    removed: frozenset[str],
    gone: frozenset[str],
    new: list[TestCase],
    claimed: set[int],
) -> bool:
    """Whether ``test``, absent from the head side, goes with the code it exercises or lives
    on in new tests (see the module docstring). ``removed``: symbols defined on the base
    side only; ``gone``: :func:`gone_names`; ``new``: the head's tests the base lacks;
    ``claimed``: ids of new tests already standing in for a removed one (updated)."""
    spelled = _words(test.name) | _words(test.suite or "")
    # It uses a symbol the change removes, and its name or suite says it is about that symbol.
    if any(_words(symbol) & spelled for symbol in test.references & removed):
        return True
    if any(_words(symbol) and _words(symbol) <= spelled for symbol in removed):
        return True
    # It drives an environment variable the source stops reading, or one of its assertions
    # names what the change takes out of the source (and every remaining test stops using).
    # A test that merely uses a removed name to get somewhere is ported, not removed: its
    # siblings show how.
    if any(name.startswith("$") for name in test.references & gone):
        return True
    if any(set(_IDENTIFIER.findall(check)) & gone for check in test.checks):
        return True
    # Folded into one parametrized test: every case it ran is a case of a new test.
    if test.parameters and any(
        test.parameters <= c.parameters and c.file == test.file and c.assertions for c in new
    ):
        return True
    if _carried(test, new):
        return True
    # A rewrite (a renamed title, a typo fixed, a body reworded): a new test whose body reads
    # the same names in nearly the same order, each new test standing in for one old test.
    for candidate in new:
        if (
            id(candidate) not in claimed
            and candidate.assertions >= min(1, test.assertions)
            and _similar(test, candidate)
        ):
            claimed.add(id(candidate))
            return True
    return False
