"""The demo's git repositories (issue 13: the worktree snapshots run without network).

The mesh points the judge's clone URL at ``<data_dir>/git/<owner>/<name>`` over ``file://``
(:mod:`shared.local.mesh.cluster`, difference 5). A recorded PR's head SHA names a commit of
github.com that no local repository can have (a SHA is the hash of the commit), so the demo
builds, for each scenario repository, a real repository whose base branch holds the PR's files
before the change and whose head branch holds them after it — both read from the patches the
fake GitHub serves — and :func:`with_local_commits` re-keys the fake GitHub's state (the PR's
base and head SHAs, its check runs) to those commits. The judge then snapshots a worktree at
the head and its file lists are ``source worktree``.

The commits are deterministic (fixed author, committer and dates, no user or system git
config), so every demo run builds the same SHAs. Left on their recorded SHAs
(:data:`RECORDED_HEADS`): the repositories that real signed webhook deliveries name by head SHA —
re-keying those would make the deliveries describe another commit — so their runs keep the
labelled GitHub fallback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from shared.local.mesh.demo_actions import RERUN_REPO

#: Repositories whose head SHAs the replayed webhook deliveries carry (recorded and signed, or
#: copied from one): kept as recorded.
RECORDED_HEADS = frozenset({"derekg1729/test-repo", RERUN_REPO})

_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Codertocat",
    "GIT_AUTHOR_EMAIL": "codertocat@example.com",
    "GIT_COMMITTER_NAME": "Codertocat",
    "GIT_COMMITTER_EMAIL": "codertocat@example.com",
    "GIT_AUTHOR_DATE": "2026-11-20T09:00:00Z",
    "GIT_COMMITTER_DATE": "2026-11-20T09:00:00Z",
    "LC_ALL": "C",
}


def _git(path: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(path), *args], capture_output=True, env=_ENV, check=True
    )
    return done.stdout.decode()


def sides(patch: str) -> tuple[str, str]:
    """The text before and after a unified-diff ``patch`` of one file (GitHub's ``patch``
    field: hunks without file headers): context lines on both sides, ``-`` lines before, ``+``
    lines after. Lines outside the hunks are not in a patch and are not made up."""
    before: list[str] = []
    after: list[str] = []
    for line in patch.splitlines():
        if line.startswith("@@") or line.startswith("\\"):
            continue
        mark, text = line[:1], line[1:]
        if mark in (" ", "-"):
            before.append(text)
        if mark in (" ", "+"):
            after.append(text)
    return "".join(f"{t}\n" for t in before), "".join(f"{t}\n" for t in after)


def _write(path: Path, files: dict[str, str | None]) -> None:
    for name, text in files.items():
        target = path / name
        if text is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    _git(path, "add", "--all")


def build_repository(
    path: Path, pull: dict[str, Any], files: list[dict[str, Any]]
) -> tuple[str, str]:
    """A fresh repository at ``path``: branch ``base.ref`` with ``files`` before the change,
    branch ``head.ref`` one commit later with them after it; its server side allows partial
    clones and fetching a commit by SHA. Returns ``(base SHA, head SHA)`` (40 hex).

    Raises:
        subprocess.CalledProcessError: git failed (git missing, a bad ref name).
    """
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    base_ref, head_ref = pull["base"]["ref"], pull["head"]["ref"]
    _git(path, "init", "--quiet", f"--initial-branch={base_ref}")
    _git(path, "config", "uploadpack.allowFilter", "true")
    _git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    for f in files:
        old, new = sides(f.get("patch") or "")
        name = f["filename"]
        previous = f.get("previous_filename") or name
        if f["status"] != "added":
            before[previous] = old
        after[previous] = None if previous != name or f["status"] == "removed" else new
        if f["status"] != "removed":
            after[name] = new
    _write(path, before)
    _git(path, "commit", "--quiet", "--allow-empty", "-m", "Initial commit")
    base = _git(path, "rev-parse", "HEAD").strip()
    _git(path, "checkout", "--quiet", "-b", head_ref)
    _write(path, after)
    _git(path, "commit", "--quiet", "--allow-empty", "-m", str(pull.get("title") or "Change"))
    head = _git(path, "rev-parse", "HEAD").strip()
    _git(path, "checkout", "--quiet", base_ref)
    return base, head


def build_repositories(root: Path, state: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Build ``<root>/<owner>/<name>`` for every PR of the fake GitHub ``state`` but those of
    :data:`RECORDED_HEADS`; ``owner/name`` → ``(base SHA, head SHA)``."""
    built: dict[str, tuple[str, str]] = {}
    for key, pull in sorted(state["pulls"].items()):
        repository = key.partition("#")[0]
        if repository in RECORDED_HEADS:
            continue
        files = state["pull_files"].get(key, [])
        built[repository] = build_repository(root / repository, pull, files)
    return built


def with_local_commits(state: dict[str, Any], built: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Re-key ``state`` (in place; returned) to the commits of :func:`build_repositories`: each
    built repository's PR gets the local base and head SHAs, and its reviews, check runs and
    statuses move to the local head."""
    for key, pull in state["pulls"].items():
        repository = key.partition("#")[0]
        if repository not in built:
            continue
        base, head = built[repository]
        old = pull["head"]["sha"]
        pull["base"]["sha"], pull["head"]["sha"] = base, head
        for review in state.get("reviews", {}).get(key, []):
            if review.get("commit_id") == old:
                review["commit_id"] = head  # a review of the head, as recorded
        for table in ("check_runs", "statuses"):
            entries = state.get(table, {}).pop(f"{repository}@{old}", None)
            if entries is None:
                continue
            for entry in entries:
                if "head_sha" in entry:
                    entry["head_sha"] = head
                suite = entry.get("check_suite")
                if isinstance(suite, dict) and "head_sha" in suite:
                    suite["head_sha"] = head
            state[table][f"{repository}@{head}"] = entries
    return state
