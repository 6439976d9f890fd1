"""Reading the diff under judgement: ``git diff base...head`` in a local worktree, else the
pull request's diff from GitHub (the sources are described in :mod:`shared.gates.diff`, which
parses what is read here; DESIGN §12.6: always against the merge base).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Protocol

from shared.gates.diff import PullDiff, parse_unified_diff

__all__ = ["PINNED_CONFIG", "PullDiffReader", "load_pull_diff", "worktree_diff"]


class PullDiffReader(Protocol):
    """The one GitHub read this module needs (a :class:`shared.ports.GitHub`)."""

    def get_pull_diff(self, repo: str, number: int, head_sha: str | None = None) -> str | None:
        """The PR's unified diff (``Accept: application/vnd.github.diff``); None on 404; read
        once per ``head_sha`` when one is given."""


#: ``git -c`` options that pin what a user's git config could change in the output the parsers
#: read (no prefix, mnemonic prefixes, colour, quoted paths); every git command whose output
#: is parsed passes them.
PINNED_CONFIG = (
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
    "-c",
    "color.ui=never",
    "-c",
    "core.quotepath=off",
)


def _git(worktree: Path, *args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(worktree), "--no-pager", *PINNED_CONFIG, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def worktree_diff(
    worktree: Path, base: str, head: str, *, timeout_s: float = 30.0
) -> PullDiff | None:
    """``git diff base...head`` (merge base, three dots) in ``worktree``; None when the
    directory is not a git worktree or either commit is missing there (the caller then
    falls back to GitHub).

    Args:
        worktree: a clone holding both commits.
        base: the base branch SHA or ref; head: the PR head SHA (40 hex).
        timeout_s: per git command, seconds.
    """
    if not (worktree / ".git").exists():
        return None
    for rev in (base, head):
        if _git(worktree, "cat-file", "-e", f"{rev}^{{commit}}", timeout_s=timeout_s).returncode:
            return None
    diff = _git(
        worktree,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--find-renames",
        f"{base}...{head}",
        timeout_s=timeout_s,
    )
    if diff.returncode != 0:
        return None
    unmerged = _git(worktree, "ls-files", "--unmerged", timeout_s=timeout_s)
    paths = sorted(
        {line.split("\t", 1)[1] for line in unmerged.stdout.splitlines() if "\t" in line}
    )
    return PullDiff(
        "worktree",
        diff.stdout,
        parse_unified_diff(diff.stdout),
        base,
        head,
        unmerged_paths=paths,
        worktree=worktree,
    )


def load_pull_diff(
    github: PullDiffReader,
    repo: str,
    number: int,
    *,
    worktree_root: Path | None,
    base: str | None,
    head: str | None,
) -> PullDiff | None:
    """The worktree diff when ``worktree_root/<owner>/<name>`` holds both commits, else
    GitHub's PR diff; None when GitHub has no such PR (404).

    Raises:
        TransientError / RateLimitedError: from the GitHub adapter.
    """
    if worktree_root is not None and base and head:
        local = worktree_diff(worktree_root / repo, base, head)
        if local is not None:
            return local
    text = github.get_pull_diff(repo, number, head_sha=head)
    if text is None:
        return None
    return PullDiff("github", text, parse_unified_diff(text))
