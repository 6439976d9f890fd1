"""Both sides of a change read from a real git worktree, judged by the inventory: a test
deleted on the branch is found at its base line, with the workflow read though unchanged."""

from __future__ import annotations

import subprocess
from pathlib import Path

from functions.judge.snapshot import worktree_snapshot
from shared.gates.inventory import inventory_findings
from shared.github.diffs import worktree_diff

TESTS = "def test_a():\n    assert 1 + 1 == 2\n\n\ndef test_b():\n    assert 2 * 2 == 4\n"
WORKFLOW = "on: [pull_request]\njobs:\n  t:\n    steps:\n      - run: pytest\n"


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_worktree_snapshot_reads_both_sides_and_the_unchanged_configuration(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "owner" / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / ".github" / "workflows").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "tests" / "test_x.py").write_text(TESTS)
    (repo / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "tests" / "test_x.py").write_text(TESTS.split("\n\n\ndef test_b")[0] + "\n")
    _git(repo, "commit", "-q", "-am", "drop test_b")
    head = _git(repo, "rev-parse", "HEAD")
    diff = worktree_diff(repo, base, head)
    assert diff is not None
    snapshot = worktree_snapshot(repo, base, head, diff.files)
    assert snapshot is not None
    assert sorted(snapshot.base) == [".github/workflows/ci.yml", "tests/test_x.py"]
    assert snapshot.head[".github/workflows/ci.yml"] == WORKFLOW
    found = inventory_findings(snapshot)
    assert [(f.code, f.file, f.line) for f in found] == [("test_removed", "tests/test_x.py", 5)]
    assert worktree_snapshot(repo, "no-such-ref", head, diff.files) is None
