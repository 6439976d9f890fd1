"""The diff under judgement, parsed from git's unified format (pure: no I/O here).

The judge's gates see a pull request as a list of :class:`~shared.models.github.PullFile`
(``filename``, ``status``, ``patch`` = the hunks), whatever the source
(:mod:`shared.github.diffs` reads it):

* ``worktree`` — ``git diff base...head`` in a local clone (DESIGN §12.6: the **merge-base**,
  three-dot diff; a two-dot ``base..head`` diff would also show every change made on the base
  branch since the fork, and judge the agent for them). Unmerged paths of that worktree
  (``git ls-files --unmerged``) are reported too.
* ``github`` — ``GET /repos/{owner}/{repo}/pulls/{number}`` with
  ``Accept: application/vnd.github.diff`` (GitHub REST "Pulls", custom media types), which GitHub
  also computes against the merge base.

Format source: git-diff(1) "GENERATING PATCH TEXT WITH -P" (``diff --git a/x b/x``, extended
headers ``new file mode``/``deleted file mode``/``rename from``/``rename to``, ``--- a/x``,
``+++ b/x``, hunks ``@@ -l,s +l,s @@``; ``/dev/null`` names a missing side).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import re2

from shared.models.github import PullFile

DiffSource = Literal["worktree", "github"]

_HUNK = re2.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_GIT_HEADER = re2.compile(r"^diff --git a/(.*) b/(.*)$")


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: ``kind`` is ``+`` (added), ``-`` (removed) or `` `` (context);
    ``old_line``/``new_line`` are 1-based line numbers in the base/head file (None on the side
    where the line does not exist); ``text`` is the line without its marker."""

    kind: Literal["+", "-", " "]
    old_line: int | None
    new_line: int | None
    text: str


def hunk_lines(patch: str | None) -> Iterator[DiffLine]:
    """Every line of a file's hunks (GitHub's per-file ``patch``, or :func:`parse_unified_diff`'s),
    with its line numbers. Lines outside a hunk and ``\\ No newline at end of file`` are skipped."""
    old = new = 0
    remaining_old = remaining_new = 0
    for raw in (patch or "").splitlines():
        match = _HUNK.match(raw)
        if match:
            old, new = int(match.group(1)), int(match.group(3))
            remaining_old = int(match.group(2) if match.group(2) is not None else 1)
            remaining_new = int(match.group(4) if match.group(4) is not None else 1)
            continue
        if remaining_old <= 0 and remaining_new <= 0:
            continue
        marker, text = raw[:1], raw[1:]
        if marker == "+":
            yield DiffLine("+", None, new, text)
            new, remaining_new = new + 1, remaining_new - 1
        elif marker == "-":
            yield DiffLine("-", old, None, text)
            old, remaining_old = old + 1, remaining_old - 1
        elif marker in (" ", ""):
            yield DiffLine(" ", old, new, text)
            old, new = old + 1, new + 1
            remaining_old, remaining_new = remaining_old - 1, remaining_new - 1


def _strip_side(name: str) -> str | None:
    name = name.strip()
    if name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


@dataclass
class _FileBuilder:
    old: str | None = None
    new: str | None = None
    status: str = "modified"
    hunks: list[str] = field(default_factory=list)
    additions: int = 0
    deletions: int = 0

    def build(self) -> PullFile:
        name = self.new or self.old or ""
        status = self.status
        if self.old is None and self.new is not None:
            status = "added"
        elif self.new is None and self.old is not None:
            status = "removed"
        patch = "\n".join(self.hunks) if self.hunks else None
        return PullFile(
            filename=name,
            status=status,
            additions=self.additions,
            deletions=self.deletions,
            changes=self.additions + self.deletions,
            patch=patch,
            previous_filename=self.old if status == "renamed" else None,
        )


def parse_unified_diff(text: str) -> list[PullFile]:
    """Split a git (or plain ``---``/``+++``) unified diff into one PullFile per file.

    Returns files in diff order; ``status`` is ``added``/``removed``/``renamed``/``modified``
    (GitHub's words); ``patch`` holds the hunks from the first ``@@`` on, like GitHub's
    "List pull request files". An empty or whitespace-only text gives ``[]``.
    """
    files: list[_FileBuilder] = []
    current: _FileBuilder | None = None
    in_hunk_old = in_hunk_new = 0
    lines = text.splitlines()
    for index, raw in enumerate(lines):
        if in_hunk_old > 0 or in_hunk_new > 0:
            assert current is not None
            current.hunks.append(raw)
            if raw.startswith("+"):
                current.additions += 1
                in_hunk_new -= 1
            elif raw.startswith("-"):
                current.deletions += 1
                in_hunk_old -= 1
            elif not raw.startswith("\\"):
                in_hunk_old, in_hunk_new = in_hunk_old - 1, in_hunk_new - 1
            continue
        header = _GIT_HEADER.match(raw)
        plain_start = (
            raw.startswith("--- ")
            and index + 1 < len(lines)
            and lines[index + 1].startswith("+++ ")
            and (current is None or current.hunks)
        )
        if header or plain_start:
            current = _FileBuilder()
            files.append(current)
            if header:
                current.old, current.new = header.group(1), header.group(2)
            if not plain_start:
                continue
        if current is None:
            continue
        if raw.startswith("new file mode"):
            current.old = None
        elif raw.startswith("deleted file mode"):
            current.new = None
        elif raw.startswith("rename from "):
            current.old, current.status = raw[len("rename from ") :], "renamed"
        elif raw.startswith("rename to "):
            current.new, current.status = raw[len("rename to ") :], "renamed"
        elif raw.startswith("--- "):
            current.old = _strip_side(raw[4:].split("\t")[0])
        elif raw.startswith("+++ "):
            current.new = _strip_side(raw[4:].split("\t")[0])
        else:
            hunk = _HUNK.match(raw)
            if hunk:
                current.hunks.append(raw)
                in_hunk_old = int(hunk.group(2) if hunk.group(2) is not None else 1)
                in_hunk_new = int(hunk.group(4) if hunk.group(4) is not None else 1)
            elif current.hunks and raw[:1] in ("+", "-", " "):
                # Past the header's line counts: a hand-edited or truncated hunk. The lines
                # are still changes of this file, so the gates (and the judge) must see them.
                current.hunks.append(raw)
                current.additions += raw.startswith("+")
                current.deletions += raw.startswith("-")
    return [f.build() for f in files]


@dataclass(frozen=True)
class PullDiff:
    """The diff the gates judged, and where it came from (recorded on the evaluation).

    Attributes:
        source: ``worktree`` (local ``git diff base...head``) or ``github`` (the PR's diff).
        text: the unified diff as read.
        files: ``text`` split per file (:func:`parse_unified_diff`).
        base: the base ref/SHA of a worktree diff; None for GitHub's.
        head: the head SHA of a worktree diff; None for GitHub's.
        unmerged_paths: paths git reports as unmerged in the worktree (always [] for GitHub).
        note: where the diff was read (a snapshot's path) or, for GitHub's, why the worktree
            snapshot was not used: the label ``codex-judge explain`` shows beside the source.
        sha256: the digest recorded when the diff was first read (a stored snapshot has no
            ``text``); None → computed from ``text``.
        worktree: a directory holding both commits (a snapshot's worktree, a configured
            clone), where whole files can be read; None for GitHub's diff.
    """

    source: DiffSource
    text: str
    files: list[PullFile]
    base: str | None = None
    head: str | None = None
    unmerged_paths: list[str] = field(default_factory=list)
    note: str | None = None
    sha256: str | None = None
    worktree: Path | None = None

    def digest(self) -> str:
        """SHA-256 (64 hex) of the diff text."""
        if self.sha256 is not None:
            return self.sha256
        return hashlib.sha256(self.text.encode()).hexdigest()
