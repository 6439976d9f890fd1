"""Anti-gaming on the project's corpus (issue 11 "Done when"): catch rate over the gaming
variants, false-block rate over the legitimate commits, and time per evaluation, for the
inventory comparison and, beside it, today's line-based gate on the same commits.

The corpus and its variants: ``tests/fixtures/antigaming`` and ``tests/support/antigaming``.
Time per evaluation is the mean over every evaluation of the run (parsing both
sides included). GitHub requests per evaluation: each legitimate commit's two sides read as
the judge reads them when no worktree holds both commits (:func:`shared.gates.inventory`'s
files over GitHub's git data API, :func:`shared.github.contents.github_snapshot`), by the real
adapter against the fake GitHub over loopback HTTP serving the corpus commits, counted from
the fake's request log: first with an empty cache (a commit judged for the first time), then
again with the cache that read filled (a later evaluation of the same commits). A worktree
costs no request.

Run: ``python -m bench.antigaming [VARIANTS_PER_KIND]`` (prints ``name: value`` lines).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from shared.adapters.github import HttpxGitHub  # noqa: E402
from shared.github.contents import InMemoryBlobCache, github_snapshot  # noqa: E402
from shared.local.fakes.base import serve_fake  # noqa: E402
from shared.local.fakes.github import create_app  # noqa: E402
from shared.models.github import PullFile  # noqa: E402
from tests.support.antigaming import load_corpus  # noqa: E402
from tests.support.antigaming.rates import line_blocked, measure  # noqa: E402


def github_requests() -> tuple[float, float]:
    """(requests per evaluation with an empty cache, with the cache a first read filled): the
    two sides of every legitimate commit of the corpus read over GitHub's git data API (see
    the module docstring)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake's access log
    manifest, cases = load_corpus()
    trees: dict[str, dict[str, str]] = {}
    for entry in manifest:
        case = cases[str(entry["id"])]
        trees[f"{entry['repo']}@{entry['parent']}"] = case["base"]
        trees[f"{entry['repo']}@{entry['commit']}"] = case["head"]
    fake = serve_fake(create_app({"trees": trees}))
    try:
        counts: list[list[int]] = [[], []]
        for entry in manifest:
            changed = [PullFile(filename=str(p), status="modified") for p in entry["changed"]]
            sides = (str(entry["repo"]), str(entry["parent"]), str(entry["commit"]), changed)
            cache = InMemoryBlobCache()
            for counted in counts:
                httpx.delete(f"{fake.url}/_fake/requests").raise_for_status()
                github = HttpxGitHub(fake.url, None)
                if github_snapshot(github, cache, *sides) is None:
                    raise RuntimeError(f"{entry['id']}: no snapshot from the git data API")
                github.close()
                log = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
                counted.append(len(log))
    finally:
        fake.stop()
    first, again = counts
    return sum(first) / len(first), sum(again) / len(again)


def report(per_kind: int | None = None) -> list[str]:
    """The ``name: value`` lines of both gates on the corpus (each also printed as measured)."""
    inventory = measure(per_kind)
    first, again = github_requests()
    lines = [
        f"antigaming_catch_rate: {inventory.catch_rate():.3f}",
        f"antigaming_false_block_rate: {inventory.false_block_rate:.3f}",
        f"antigaming_ms_per_evaluation: {1000 * inventory.seconds / inventory.evaluations:.1f}",
        f"antigaming_github_requests_per_evaluation: {first:.1f}",
        f"antigaming_github_requests_per_repeated_evaluation: {again:.1f}",
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
