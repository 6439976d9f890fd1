"""Time to snapshot a worktree for a 25-file PR against a repository of a few thousand
commits, beside a plain ``git clone`` of the same repository, as a ratio (issue 13; DESIGN §14:
a ratio against a floor measured in the same run).

The repository is built here with real commits (``git fast-import``): :data:`COMMITS`
commits spread over :data:`HISTORY_FILES` files in nested directories on ``main``, then a
``feature`` branch changing :data:`PR_FILES` files. Both sides read it over ``file://``
(git's pack protocol, not local hardlinks). The snapshot is the judge's whole step on a cold cache
(:meth:`shared.adapters.git_worktree.GitWorktrees.snapshot`: partial clone ``blob:none``,
fetch of the base branch and head SHA, detached worktree, merge base, name-status and patch);
the floor is ``git clone`` of the repository with its checkout. A warm snapshot (the clone
cached, a new head) is reported beside it. Medians of :data:`ROUNDS` rounds.

Run: ``python -m bench.worktrees`` (prints ``worktree_snapshot_vs_clone: <ratio>`` and the
figures); ``make bench`` runs it too.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.adapters.git_worktree import GitWorktrees  # noqa: E402
from tests.support.gitrepo import GitRepo, history_path  # noqa: E402

COMMITS = int(os.environ.get("BENCH_WORKTREE_COMMITS", "3000"))
HISTORY_FILES = 300
PR_FILES = 25
ROUNDS = 5


def _repository(where: Path) -> tuple[GitRepo, str]:
    repo = GitRepo(where)
    repo.commit("root", {"README.md": "bench\n"})
    fork = repo.fast_history(COMMITS, files=HISTORY_FILES, line_bytes=200)
    repo.checkout("feature", create_from=fork)
    head = repo.commit(
        "a 25-file change",
        {history_path(i * 7): f"changed {i}\n" for i in range(PR_FILES)},
    )
    repo.checkout("main")
    return repo, head


def measure() -> dict[str, float]:
    """The figures (seconds, and the ratio snapshot / clone)."""
    with tempfile.TemporaryDirectory(prefix="bench-worktrees-") as tmp:
        base = Path(tmp)
        served = base / "served" / "bench" / "repo"
        repo, head = _repository(served)
        url = (base / "served").as_uri() + "/{repo}"
        snapshots, clones, warm = [], [], []
        for i in range(ROUNDS):
            root = base / f"snap{i}"
            git = GitWorktrees(root, clone_url=url)
            snap = git.snapshot("bench/repo", 1, "main", head)
            assert len(snap.files) == PR_FILES, len(snap.files)
            snapshots.append(snap.seconds)
            repo.checkout("feature")
            again = repo.commit(f"round {i}", {"extra.txt": f"{i}\n"})
            repo.checkout("main")
            warm.append(git.snapshot("bench/repo", 1, "main", again).seconds)
            started = time.monotonic()
            subprocess.run(
                ["git", "clone", "--quiet", repo.url, str(base / f"clone{i}")],
                check=True,
                env={"PATH": os.environ.get("PATH", ""), "GIT_CONFIG_GLOBAL": os.devnull},
            )
            clones.append(time.monotonic() - started)
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(base / f"clone{i}", ignore_errors=True)
    snapshot, clone = statistics.median(snapshots), statistics.median(clones)
    return {
        "commits": COMMITS,
        "snapshot_s": round(snapshot, 3),
        "warm_snapshot_s": round(statistics.median(warm), 3),
        "git_clone_s": round(clone, 3),
        "worktree_snapshot_vs_clone": round(snapshot / clone, 3),
    }


def main() -> int:
    figures = measure()
    print(f"worktree_snapshot_vs_clone: {figures['worktree_snapshot_vs_clone']}")
    for name, value in figures.items():
        if name != "worktree_snapshot_vs_clone":
            print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
