"""The demo's local git repositories (shared/local/mesh/demo_repos.py): real commits built from
the patches the fake GitHub serves, the same SHAs on every build, and the fake GitHub's state
re-keyed to them; a worktree snapshot of one lists the PR's files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from shared.adapters.git_worktree import GitWorktrees
from shared.local.mesh import demo
from shared.local.mesh.demo_repos import (
    RECORDED_HEADS,
    build_repositories,
    build_repository,
    sides,
    with_local_commits,
)

HELLO = "Codertocat/Hello-World"


def test_the_same_commits_are_built_every_time(tmp_path: Path) -> None:
    first = build_repositories(tmp_path / "a", demo.github_state())
    again = build_repositories(tmp_path / "b", demo.github_state())
    assert first == again
    assert HELLO in first and not RECORDED_HEADS & set(first)
    readme = subprocess.run(
        ["git", "-C", str(tmp_path / "a" / HELLO), "show", f"{first[HELLO][1]}:README.md"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert readme == "# Hello World\n"


def test_the_state_is_rekeyed_to_the_built_commits(tmp_path: Path) -> None:
    state = demo.github_state()
    recorded = state["pulls"][f"{HELLO}#2"]["head"]["sha"]
    built = build_repositories(tmp_path, state)
    state = with_local_commits(state, built)
    base, head = built[HELLO]
    pull = state["pulls"][f"{HELLO}#2"]
    assert (pull["base"]["sha"], pull["head"]["sha"]) == (base, head)
    assert f"{HELLO}@{recorded}" not in state["check_runs"]
    assert [c["head_sha"] for c in state["check_runs"][f"{HELLO}@{head}"]] == [head]
    assert [r["commit_id"] for r in state["reviews"][f"{HELLO}#2"]] == [head]
    rerun = state["pulls"]["derekg1729/test-repo#315"]["head"]["sha"]
    assert f"derekg1729/test-repo@{rerun}" in state["check_runs"]  # left as recorded
    completion = json.dumps(demo.completions(state)[0]["value"])  # run 1's, Hello-World#2
    assert head in completion and recorded not in completion


def test_a_snapshot_of_a_built_repository_lists_the_prs_files(tmp_path: Path) -> None:
    state = demo.github_state()
    built = build_repositories(tmp_path / "git", state)
    git = GitWorktrees(tmp_path / "snapshots", clone_url=(tmp_path / "git").as_uri() + "/{repo}")
    snap = git.snapshot(HELLO, 2, "master", built[HELLO][1])
    assert snap.merge_base == built[HELLO][0]
    assert [(f.path, f.status) for f in snap.files] == [("README.md", "modified")]


def test_renames_additions_and_removals_are_built_from_the_patches(tmp_path: Path) -> None:
    assert sides("@@ -1,2 +1,2 @@\n keep\n-old\n+new") == ("keep\nold\n", "keep\nnew\n")
    pull = {"base": {"ref": "main"}, "head": {"ref": "topic"}, "title": "Move things"}
    files = [
        {"filename": "b.txt", "previous_filename": "a.txt", "status": "renamed", "patch": ""},
        {"filename": "new.txt", "status": "added", "patch": "@@ -0,0 +1 @@\n+fresh"},
        {"filename": "gone.txt", "status": "removed", "patch": "@@ -1 +0,0 @@\n-bye"},
    ]
    base, head = build_repository(tmp_path / "r", pull, files)
    diff = subprocess.run(
        ["git", "-C", str(tmp_path / "r"), "diff", "--name-status", "-M", base, head],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert sorted(line for line in diff if line) == [
        "A\tnew.txt",
        "D\tgone.txt",
        "R100\ta.txt\tb.txt",
    ]
