"""Both sides of a change, read from a local worktree for the anti-gaming inventory.

The inventory (:mod:`shared.gates.inventory`) reads whole files, not hunks: every changed file
at the merge base and at the head, plus the configuration beside them that decides what is
checked (pytest/coverage/ruff/mypy/tox configuration, ``conftest.py``, ``package.json``, GitHub
Actions workflows, ``go.mod``), which are read even when unchanged. Contents come from
``git cat-file --batch`` (git-cat-file(1) "BATCH OUTPUT": ``<sha> <type> <size>\\n<contents>\\n``,
``<object> missing\\n``) at the two commits; the merge base is ``git merge-base`` (DESIGN §12.6).

Without a worktree the same files are read over GitHub's git data API
(:mod:`shared.github.contents`); which files: :mod:`shared.gates.inventory.sides`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from shared.gates.inventory.model import ChangeSnapshot
from shared.gates.inventory.sides import MAX_FILES, side_paths, text_of
from shared.models.github import PullFile


def _git(worktree: Path, *args: str, stdin: bytes | None = None, timeout_s: float = 30.0) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(worktree), "--no-pager", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    return done.stdout if done.returncode == 0 else b""


def _read(worktree: Path, rev: str, paths: Iterable[str]) -> dict[str, str]:
    """``path → text`` at ``rev`` for the paths that exist there, are text and not too large."""
    wanted = sorted(set(paths))
    request = "".join(f"{rev}:{p}\n" for p in wanted).encode()
    out = _git(worktree, "cat-file", "--batch", stdin=request)
    files: dict[str, str] = {}
    position = 0
    for path in wanted:
        end = out.find(b"\n", position)
        if end < 0:
            break
        header = out[position:end].split()
        position = end + 1
        if len(header) != 3 or header[1] != b"blob":
            continue  # "<object> missing": not on this side
        size = int(header[2])
        data = out[position : position + size]
        position += size + 1
        text = text_of(data)
        if text is not None:
            files[path] = text
    return files


def worktree_snapshot(
    worktree: Path, base: str, head: str, files: list[PullFile]
) -> ChangeSnapshot | None:
    """The changed files (both names of a rename) and the context files at the merge base of
    ``base`` and ``head`` and at ``head``; None when git cannot resolve the merge base or the
    change touches more than ``MAX_FILES`` files (the line-based gate then judges it).

    Args:
        worktree: a clone holding both commits; base: the base branch SHA or ref; head: the
            head SHA (40 hex); files: the diff per file (:func:`shared.gates.diff.worktree_diff`).
    """
    merge_base = _git(worktree, "merge-base", base, head).decode().strip()
    if not merge_base or len(files) > MAX_FILES:
        return None
    listing = _git(worktree, "ls-tree", "-r", "--name-only", head).decode().splitlines()
    paths = side_paths(files, listing)
    return ChangeSnapshot(
        base=_read(worktree, merge_base, paths),
        head=_read(worktree, head, paths),
        source="worktree",
    )
