"""The anti-gaming corpus and gaming variants of its real commits, one edit per kind.

The corpus (``tests/fixtures/antigaming/corpus.json.xz``, provenance in ``manifest.json``)
holds real merged commits as the files they change (plus the configuration beside them) at
the parent and at the commit. Each mutation below takes such a commit and makes the change
game the checks the way the issue lists them, using the language's own parser to find where
(``ast`` for Python, tree-sitter for JavaScript/TypeScript, Go, Java and Rust, PyYAML for
workflows). A
mutation returns None when the commit has nothing it applies to (no Go test in a Python repo).

Run ``python -m tests.support.antigaming.kinds`` to print how many variants each kind gets;
``python -m tests.support.antigaming.rates`` measures the catch and false-block rates.
"""

from __future__ import annotations

import json
import lzma
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from shared.gates.inventory import build_inventory

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "antigaming"
Files = dict[str, str]
Mutation = Callable[[Files, Files], Files | None]


def load_corpus() -> tuple[list[dict[str, object]], dict[str, dict[str, Files]]]:
    """(manifest entries, id → {"base": files, "head": files})."""
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    cases = json.loads(lzma.decompress((CORPUS / "corpus.json.xz").read_bytes()))
    return manifest, cases


_TARGETS: dict[tuple[int, int, str], tuple[Files, Files, list[tuple[str, str]]]] = {}


def _targets(base: Files, head: Files, language: str) -> list[tuple[str, str]]:
    """(file, name) of tests with an assertion present on both sides, changed files first
    (cached per pair of file sets, which the cache keeps alive so their ids stay theirs:
    every kind asks for the same commit)."""
    key = (id(base), id(head), language)
    if key not in _TARGETS:
        _TARGETS[key] = (base, head, _find_targets(base, head, language))
    return _TARGETS[key][2]


def _find_targets(base: Files, head: Files, language: str) -> list[tuple[str, str]]:
    inv_b, inv_h = build_inventory(base), build_inventory(head)
    before = {(t.file, t.name) for t in inv_b.tests if t.collected}
    # An exact twin (same names and literals in the same order) is a duplicate: deleting one
    # copy checks nothing less, so it is no gaming variant.
    shapes = Counter(t.shape for t in inv_h.tests)
    ext = {
        "python": (".py",),
        "js": (".js", ".ts", ".mjs", ".tsx"),
        "go": (".go",),
        "java": (".java",),
        "rust": (".rs",),
    }[language]
    found = [
        (t.file, t.name)
        for t in inv_h.tests
        if t.collected
        and t.assertions
        and (t.file, t.name) in before
        and t.file.endswith(ext)
        and not t.skips
        and t.early_exit is None
        and shapes[t.shape] == 1
    ]
    changed = [f for f in found if base.get(f[0]) != head.get(f[0])]
    return changed + [f for f in found if f not in changed]


def _lines_replace(text: str, start: int, end: int, new: list[str]) -> str:
    lines = text.splitlines()
    return "\n".join(lines[: start - 1] + new + lines[end:]) + "\n"


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
