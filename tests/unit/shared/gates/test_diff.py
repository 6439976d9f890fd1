"""The diff under judgement: git's unified format parsed, the merge-base (three-dot) diff of a
real git worktree, and GitHub's PR diff (``application/vnd.github.diff``) as the fallback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shared.adapters.github import HttpxGitHub
from shared.gates.diff import hunk_lines, parse_unified_diff
from shared.github.diffs import load_pull_diff, worktree_diff
from shared.local.fakes.base import serve_fake
from shared.local.fakes.github import create_app

SWE = Path(__file__).resolve().parents[3] / "fixtures" / "corpus" / "swe-bench"
PULL = json.loads((SWE / "pvlib-pr-1.swe-bench.jsonl").read_text().splitlines()[0])


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def _commit(repo: Path, path: str, text: str, message: str) -> str:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    _git(repo, "add", path)
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    """``owner/repo``: main forks into ``feature`` (edits app.py), then main moves on
    (edits base.py) — so base..head and base...head differ."""
    repo = tmp_path / "owner" / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _commit(repo, "app.py", "def total(xs):\n    return sum(xs)\n", "base")
    _commit(repo, "base.py", "VERSION = 1\n", "base file")
    _git(repo, "checkout", "-q", "-b", "feature")
    _commit(repo, "app.py", "def total(xs):\n    return sum(xs, 0)\n", "fix total")
    _git(repo, "checkout", "-q", "main")
    _commit(repo, "base.py", "VERSION = 2\n", "main moves on")
    return repo


def test_gold_patch_parses_into_files_with_line_numbers() -> None:
    task = json.loads((SWE / "swe-bench-lite-test.5-tasks.swe-agent.json").read_text())[0]
    (f,) = parse_unified_diff(task["patch"])
    assert (f.filename, f.status, f.additions, f.deletions) == (
        "django/contrib/sitemaps/__init__.py",
        "modified",
        1,
        1,
    )
    changed = [(ln.kind, ln.old_line, ln.new_line) for ln in hunk_lines(f.patch) if ln.kind != " "]
    assert changed == [("-", 170, None), ("+", None, 170)]


def test_worktree_diff_is_the_merge_base_diff(worktree: Path) -> None:
    diff = worktree_diff(worktree, "main", "feature")
    assert diff is not None and diff.source == "worktree"
    assert [f.filename for f in diff.files] == ["app.py"]  # not main's base.py change
    two_dot = _git(worktree, "diff", "--name-only", "main..feature").splitlines()
    assert sorted(two_dot) == ["app.py", "base.py"]  # what DESIGN §12.6 forbids
    assert len(diff.digest()) == 64 and diff.unmerged_paths == []


def test_worktree_reports_unmerged_paths(worktree: Path) -> None:
    _commit(worktree, "app.py", "def total(xs):\n    return 0\n", "conflicting change")
    _git(worktree, "merge", "-q", "feature")
    diff = worktree_diff(worktree, "main", "feature")
    assert diff is not None and diff.unmerged_paths == ["app.py"]


def test_missing_commit_falls_back_to_the_github_pr_diff(worktree: Path) -> None:
    patch = "@@ -1,2 +1,2 @@\n def total(xs):\n-    return sum(xs)\n+    return sum(xs, 0)"
    state = {
        "pulls": {"owner/repo#1": PULL},
        "pull_files": {
            "owner/repo#1": [{"filename": "app.py", "status": "modified", "patch": patch}]
        },
    }
    fake = serve_fake(create_app(state))
    github = HttpxGitHub(fake.url)
    try:
        root = worktree.parent.parent
        local = load_pull_diff(
            github, "owner/repo", 1, worktree_root=root, base="main", head="feature"
        )
        assert local is not None and local.source == "worktree"
        remote = load_pull_diff(
            github, "owner/repo", 1, worktree_root=root, base="main", head="f" * 40
        )
        assert remote is not None and remote.source == "github"
        assert [(f.filename, f.additions, f.deletions) for f in remote.files] == [("app.py", 1, 1)]
        assert remote.text.startswith("diff --git a/app.py b/app.py")
        assert (
            load_pull_diff(github, "owner/repo", 2, worktree_root=None, base=None, head=None)
            is None
        )
    finally:
        github.close()
        fake.stop()


def test_plain_unified_diff_without_git_headers_parses() -> None:
    text = (
        "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
        "--- /dev/null\n+++ b/y.py\n@@ -0,0 +1 @@\n+c\n"
    )
    files = parse_unified_diff(text)
    assert [(f.filename, f.status) for f in files] == [("x.py", "modified"), ("y.py", "added")]
