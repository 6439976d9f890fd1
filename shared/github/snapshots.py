"""What a worktree snapshot is (issue 13): the models the git adapter
(:mod:`shared.adapters.git_worktree`) returns and :mod:`shared.github.worktrees` records, the
port, and the parser of ``git diff --name-status -z`` (pure: no I/O here).

Format source: git-diff(1) ``--name-status``, ``-z`` ("output the pathnames verbatim and use
NULs as field terminators") and ``--diff-filter`` (the status letters A C D M R T).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["NameStatus", "Snapshot", "SnapshotError", "Snapshotter", "parse_name_status"]

# git diff --name-status letters (git-diff(1) "--diff-filter") in GitHub's words.
_STATUS = {
    "A": "added",
    "D": "removed",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


class SnapshotError(Exception):
    """A snapshot could not be made; the message says which step and why (no secrets)."""


@dataclass(frozen=True)
class NameStatus:
    """One line of ``git diff --name-status -M``: ``status`` in GitHub's words, ``path`` the
    head-side path, ``previous_path`` the base-side path of a rename/copy, ``similarity`` its
    percentage (0-100)."""

    status: str
    path: str
    previous_path: str | None = None
    similarity: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """A made snapshot: worktree ``name`` and ``path``; ``base_sha`` the base branch's tip,
    ``merge_base`` its merge base with ``head_sha`` (40 hex each); ``files`` the name-status
    from the merge base; ``patch`` the unified diff from the merge base; ``seconds`` spent."""

    name: str
    path: Path
    base_sha: str
    merge_base: str
    head_sha: str
    files: tuple[NameStatus, ...]
    patch: str
    seconds: float


def parse_name_status(raw: bytes) -> list[NameStatus]:
    """Parse ``git diff --name-status -z`` output: NUL-separated ``<status>``, ``<path>`` (and a
    second path for ``R``/``C``, whose status carries the similarity, e.g. ``R087``).

    Raises:
        SnapshotError: the output is cut short or holds an unknown status letter.
    """
    fields = raw.decode("utf-8", "surrogateescape").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    out: list[NameStatus] = []
    index = 0
    while index < len(fields):
        code = fields[index]
        letter = code[:1]
        if letter not in _STATUS:
            raise SnapshotError(f"git diff --name-status: unknown status {code!r}")
        paths = 2 if letter in "RC" else 1
        names = fields[index + 1 : index + 1 + paths]
        if len(names) != paths:
            raise SnapshotError("git diff --name-status: output cut short")
        score = int(code[1:]) if code[1:].isdigit() else None
        if paths == 2:
            out.append(NameStatus(_STATUS[letter], names[1], names[0], score))
        else:
            out.append(NameStatus(_STATUS[letter], names[0]))
        index += 1 + paths
    return out


class Snapshotter(Protocol):
    """The port (:class:`shared.adapters.git_worktree.GitWorktrees`)."""

    def snapshot(self, repo: str, number: int, base_ref: str, head_sha: str) -> Snapshot:
        """Snapshot ``repo`` PR ``number`` at ``head_sha`` (40 hex) against branch
        ``base_ref``.

        Raises:
            SnapshotError: the snapshot could not be made (the message says why).
        """
