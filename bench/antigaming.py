"""Anti-gaming on the project's corpus (issue 11 "Done when"): catch rate over the gaming
variants, false-block rate over the legitimate commits, and time per evaluation, for the
inventory comparison and, beside it, today's line-based gate on the same commits.

The corpus and its variants: ``tests/fixtures/antigaming`` and ``tests/support/antigaming``.
Time per evaluation is the mean over every evaluation of the run (parsing both
sides included); reading the two sides costs no GitHub request when a worktree holds both
commits (the only source built so far).

Run: ``python -m bench.antigaming [VARIANTS_PER_KIND]`` (prints ``name: value`` lines).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.antigaming.rates import line_blocked, measure  # noqa: E402


def report(per_kind: int | None = None) -> list[str]:
    """The ``name: value`` lines of both gates on the corpus (each also printed as measured)."""
    inventory = measure(per_kind)
    lines = [
        f"antigaming_catch_rate: {inventory.catch_rate():.3f}",
        f"antigaming_false_block_rate: {inventory.false_block_rate:.3f}",
        f"antigaming_ms_per_evaluation: {1000 * inventory.seconds / inventory.evaluations:.1f}",
        "antigaming_github_requests_per_evaluation: 0",
        f"antigaming_legitimate_commits: {inventory.legitimate}",
        f"antigaming_variants: {sum(inventory.variants.values())}",
        f"antigaming_kinds: {sum(1 for n in inventory.variants.values() if n)}",
        "antigaming_min_kind_catch_rate: "
        + f"{min(inventory.catch_rate(k) for k, n in inventory.variants.items() if n):.3f}",
    ]
    print("\n".join(lines), flush=True)
    today = measure(per_kind, judge=line_blocked)
    lines += [
        f"antigaming_line_based_catch_rate: {today.catch_rate():.3f}",
        f"antigaming_line_based_false_block_rate: {today.false_block_rate:.3f}",
        f"antigaming_line_based_ms_per_evaluation: {1000 * today.seconds / today.evaluations:.1f}",
    ]
    print("\n".join(lines[-3:]), flush=True)
    return lines


if __name__ == "__main__":
    report(int(sys.argv[1]) if len(sys.argv) > 1 else None)
