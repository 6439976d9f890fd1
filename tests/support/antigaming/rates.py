"""Catch rate per gaming kind and false-block rate on the legitimate commits of the corpus.

A change is *blocked* when the inventory comparison returns a finding of severity ``error``
(what :func:`shared.gates.judge.gate_report` turns into a verdict under the default policy).
Variants are made only from legitimate commits that are not blocked themselves, so a caught
variant is caught for its own edit.

Run ``python -m tests.support.antigaming.rates [VARIANTS_PER_KIND]`` for the rates per kind,
the variants missed, and each legitimate commit blocked with the findings that block it.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.gates.antigaming import Finding, antigaming_findings
from shared.gates.diff import parse_unified_diff
from shared.gates.inventory import build_inventory
from shared.gates.inventory.compare import compare
from tests.support.antigaming import Files, load_corpus
from tests.support.antigaming.kinds import KINDS


def findings(base: Files, head: Files) -> list[Finding]:
    """Every finding of the change from ``base`` to ``head`` (both sides' files)."""
    return compare(build_inventory(base), build_inventory(head))


def blocked(base: Files, head: Files) -> bool:
    """Whether the change would be held back under the default policy."""
    return any(f.severity == "error" for f in findings(base, head))


def line_blocked(base: Files, head: Files) -> bool:
    """Whether the line-based gate (:func:`shared.gates.antigaming.antigaming_findings`, the
    judge's gate when only the diff is known) holds the change back: the same commit as the
    unified diff ``git diff`` would print (difflib, 3 lines of context)."""
    text = ""
    for path in sorted(set(base) | set(head)):
        old, new = base.get(path), head.get(path)
        if old == new:
            continue
        diff = difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            f"a/{path}" if old is not None else "/dev/null",
            f"b/{path}" if new is not None else "/dev/null",
        )
        body = "".join(line if line.endswith("\n") else line + "\n" for line in diff)
        text += f"diff --git a/{path} b/{path}\n" + body
    return any(not f.advisory for f in antigaming_findings(parse_unified_diff(text)))


@dataclass
class Rates:
    """Measured figures: legitimate commits judged and blocked, variants per kind and caught,
    evaluations run and seconds spent in them."""

    legitimate: int = 0
    false_blocks: list[str] = field(default_factory=list)
    variants: dict[str, int] = field(default_factory=dict)
    caught: dict[str, int] = field(default_factory=dict)
    missed: dict[str, list[str]] = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0

    @property
    def false_block_rate(self) -> float:
        return len(self.false_blocks) / self.legitimate if self.legitimate else 0.0

    def catch_rate(self, kind: str | None = None) -> float:
        kinds = [kind] if kind else [k for k in self.variants if self.variants[k]]
        total = sum(self.variants[k] for k in kinds)
        return sum(self.caught[k] for k in kinds) / total if total else 0.0


def measure(per_kind: int | None = None, judge: Callable[[Files, Files], bool] = blocked) -> Rates:
    """Runs the corpus: every legitimate commit, then up to ``per_kind`` variants of each kind
    (all when None), in manifest order, each decided by ``judge`` (the inventory comparison,
    or :func:`line_blocked` for today's line-based gate)."""
    manifest, cases = load_corpus()
    rates = Rates()
    clean: list[tuple[str, Files, Files]] = []
    for entry in manifest:
        case = cases[str(entry["id"])]
        started = time.perf_counter()
        hit = judge(case["base"], case["head"])
        rates.seconds += time.perf_counter() - started
        rates.evaluations += 1
        rates.legitimate += 1
        if hit:
            rates.false_blocks.append(str(entry["id"]))
        else:
            clean.append((str(entry["id"]), case["base"], case["head"]))
    for kind, mutation in KINDS.items():
        rates.variants[kind] = rates.caught[kind] = 0
        rates.missed[kind] = []
        for case_id, base, head in clean:
            if per_kind is not None and rates.variants[kind] >= per_kind:
                break
            gamed = mutation(base, head)
            if gamed is None or gamed == head:
                continue
            started = time.perf_counter()
            hit = judge(base, gamed)
            rates.seconds += time.perf_counter() - started
            rates.evaluations += 1
            rates.variants[kind] += 1
            if hit:
                rates.caught[kind] += 1
            else:
                rates.missed[kind].append(case_id)
    return rates


if __name__ == "__main__":
    import sys

    result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    for kind in KINDS:
        missed = result.missed[kind][:3]
        print(f"{kind}: {result.caught[kind]}/{result.variants[kind]} missed {missed}")
    print(f"false blocks: {result.false_blocks}")
    _, cases = load_corpus()
    for case_id in result.false_blocks:
        for f in findings(cases[case_id]["base"], cases[case_id]["head"]):
            if f.severity == "error":
                print(f"  {case_id}: {f.code} {f.file}:{f.line} {f.message}")
    print(f"antigaming_catch_rate: {result.catch_rate():.3f}")
    print(f"antigaming_false_block_rate: {result.false_block_rate:.3f}")
    print(f"ms per evaluation: {1000 * result.seconds / result.evaluations:.1f}")
