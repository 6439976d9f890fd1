"""The worktree snapshot of a pull request, and the one writer of ``github.pr_files`` and
``github.pr_worktrees`` (migration 0015; issue 13; DESIGN §5, §12 item 6).

:func:`snapshot_diff` gives the judge the PR's changes at one head SHA from the snapshot:

1. a ``ready`` snapshot of that head SHA already recorded → its ``pr_files`` rows (``source =
   'worktree'``), no git at all (idempotent per head SHA; later judge passes cost one query);
2. else the snapshotter (:class:`~shared.adapters.git_worktree.GitWorktrees`) clones and diffs
   from the merge base; the name-status and per-file patches are inserted as ``worktree`` rows
   and the allocation upserted in ``pr_worktrees``;
3. a snapshot that cannot be made (no directory configured, clone refused, over the time or
   size limit) is recorded as a ``failed`` allocation and returned as the reason, which the
   caller shows beside GitHub's diff: the labelled fallback.

A force-pushed head is a new head SHA: a new snapshot, the old head's rows kept under it.
Rows from another source (:func:`record_files` with ``source = 'github'``) are keyed apart and
the upsert's ``WHERE`` refuses to touch a ``worktree`` row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import re2

from shared.db import Tx
from shared.gates.diff import PullDiff, parse_unified_diff
from shared.github.snapshots import Snapshot, SnapshotError, Snapshotter
from shared.models.github import PullFile

__all__ = [
    "FileListSource",
    "WorktreeRecord",
    "record_files",
    "snapshot_diff",
    "worktrees_of",
]

FileListSource = Literal["worktree", "github"]

_SHA = re2.compile(r"^[0-9a-f]{40}$")

SQL_READY = """
SELECT merge_base_sha, base_sha, diff_sha256, path FROM github.pr_worktrees
 WHERE repository = :repo AND pr_number = :number AND head_sha = :head AND status = 'ready'
"""

SQL_RECENT_FAILURE = """
SELECT detail FROM github.pr_worktrees
 WHERE repository = :repo AND pr_number = :number AND head_sha = :head AND status = 'failed'
   AND refreshed_at > now() - make_interval(secs => :retry_after_s)
"""

SQL_FILES = """
SELECT path, status, previous_path, additions, deletions, patch
  FROM github.pr_files
 WHERE repository = :repo AND pr_number = :number AND head_sha = :head AND source = :source
 ORDER BY path
"""

# One statement for every source: the WHERE keeps a worktree row as first written.
SQL_UPSERT_FILES = """
INSERT INTO github.pr_files (repository, pr_number, head_sha, path, source, status,
    previous_path, similarity, merge_base_sha, additions, deletions, patch)
SELECT :repo, :number, :head, f.path, :source, f.status, f.previous_path, f.similarity,
       :merge_base, f.additions, f.deletions, f.patch
  FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS f(path text, status text,
       previous_path text, similarity integer, additions integer, deletions integer, patch text)
ON CONFLICT (repository, pr_number, head_sha, path, source) DO UPDATE
   SET status = EXCLUDED.status, previous_path = EXCLUDED.previous_path,
       similarity = EXCLUDED.similarity, additions = EXCLUDED.additions,
       deletions = EXCLUDED.deletions, patch = EXCLUDED.patch, recorded_at = now()
 WHERE github.pr_files.source <> 'worktree'
"""

SQL_UPSERT_WORKTREE = """
INSERT INTO github.pr_worktrees (repository, pr_number, head_sha, name, path, base_ref,
    base_sha, merge_base_sha, status, detail, file_count, diff_sha256, clone_seconds)
VALUES (:repo, :number, :head, :name, :path, :base_ref, :base_sha, :merge_base, :status,
    :detail, :file_count, :diff_sha256, :seconds)
ON CONFLICT (repository, pr_number, head_sha) DO UPDATE
   SET name = EXCLUDED.name, path = EXCLUDED.path, base_ref = EXCLUDED.base_ref,
       base_sha = EXCLUDED.base_sha, merge_base_sha = EXCLUDED.merge_base_sha,
       status = EXCLUDED.status, detail = EXCLUDED.detail, file_count = EXCLUDED.file_count,
       diff_sha256 = EXCLUDED.diff_sha256, clone_seconds = EXCLUDED.clone_seconds,
       refreshed_at = now()
 WHERE github.pr_worktrees.status <> 'ready' OR EXCLUDED.status = 'ready'
"""

SQL_WORKTREES = """
SELECT w.head_sha, w.name, w.path, w.base_ref, w.base_sha, w.merge_base_sha, w.status,
       w.detail, w.file_count, w.refreshed_at,
       (SELECT count(*) FROM github.pr_files f
         WHERE f.repository = w.repository AND f.pr_number = w.pr_number
           AND f.head_sha = w.head_sha AND f.source = 'github') AS github_files
  FROM github.pr_worktrees w
 WHERE w.repository = :repo AND w.pr_number = :number
 ORDER BY w.refreshed_at, w.head_sha
"""


@dataclass(frozen=True)
class WorktreeRecord:
    """One ``github.pr_worktrees`` row, for ``codex-judge explain``."""

    head_sha: str
    name: str
    path: str
    base_ref: str
    base_sha: str | None
    merge_base_sha: str | None
    status: str
    detail: str | None
    file_count: int
    refreshed_at: datetime
    github_files: int


def _rows(files: Sequence[PullFile], similarity: dict[str, int | None]) -> str:
    # A path is one row (the key): a diff naming a path twice (a hand-edited patch) keeps the
    # first, as one INSERT may not touch a row twice.
    unique = {f.filename: f for f in reversed(files)}
    return json.dumps(
        [
            {
                "path": f.filename,
                "status": f.status,
                "previous_path": f.previous_filename,
                "similarity": similarity.get(f.filename),
                "additions": f.additions,
                "deletions": f.deletions,
                "patch": f.patch,
            }
            for f in reversed(unique.values())
        ]
    )


def record_files(
    tx: Tx,
    repo: str,
    number: int,
    head_sha: str,
    source: FileListSource,
    files: Sequence[PullFile],
    *,
    merge_base: str | None = None,
    similarity: dict[str, int | None] | None = None,
) -> None:
    """Record a file list of PR ``number`` at ``head_sha`` under ``source``; an existing
    ``worktree`` row is never changed (see the module docstring)."""
    if not files:
        return
    tx.run(
        SQL_UPSERT_FILES,
        repo=repo,
        number=number,
        head=head_sha,
        source=source,
        merge_base=merge_base,
        rows=_rows(files, similarity or {}),
    )


def _stored(tx: Tx, repo: str, number: int, head_sha: str) -> PullDiff | None:
    ready = tx.one(SQL_READY, repo=repo, number=number, head=head_sha)
    if ready is None:
        return None
    rows = tx.all(SQL_FILES, repo=repo, number=number, head=head_sha, source="worktree")
    files = [
        PullFile(
            filename=r["path"],
            status=r["status"],
            additions=r["additions"],
            deletions=r["deletions"],
            changes=r["additions"] + r["deletions"],
            patch=r["patch"],
            previous_filename=r["previous_path"],
        )
        for r in rows
    ]
    note = f"snapshot {ready['path']} (recorded)"
    # The worktree lives as long as the judge's pod (an emptyDir): gone → file lists only.
    kept = Path(ready["path"]) if ready["path"] and Path(ready["path"]).is_dir() else None
    return PullDiff(
        "worktree",
        "",
        files,
        ready["merge_base_sha"],
        head_sha,
        note=note,
        sha256=ready["diff_sha256"],
        worktree=kept,
    )


def _files(snap: Snapshot) -> tuple[list[PullFile], dict[str, int | None]]:
    """Name-status (the authority on paths and status) joined with the patch's hunks."""
    hunks = {f.filename: f for f in parse_unified_diff(snap.patch)}
    files: list[PullFile] = []
    similarity: dict[str, int | None] = {}
    for entry in snap.files:
        path, status, previous = entry.path, entry.status, entry.previous_path
        parsed = hunks.get(path)
        adds, dels = (parsed.additions, parsed.deletions) if parsed else (0, 0)
        files.append(
            PullFile(
                filename=path,
                status=status,
                additions=adds,
                deletions=dels,
                changes=adds + dels,
                patch=parsed.patch if parsed else None,
                previous_filename=previous,
            )
        )
        similarity[path] = entry.similarity
    return files, similarity


def snapshot_diff(
    tx: Tx,
    snapshotter: Snapshotter | None,
    repo: str,
    number: int,
    base_ref: str | None,
    head_sha: str,
    *,
    retry_after_s: float = 0.0,
) -> PullDiff | str:
    """The PR's changes at ``head_sha`` from its worktree snapshot, or why there is none.

    Args:
        tx: the open transaction (rows are written in it).
        snapshotter: the git adapter; None when no worktree directory is configured.
        repo: ``owner/name``; number: the PR number; base_ref: the base branch name.
        head_sha: the head commit (40 hex) under judgement.
        retry_after_s: a snapshot of this head that failed less than this many seconds ago
            is not tried again (its recorded reason is returned): a clone that timed out
            would otherwise cost its whole time limit on every judge pass.

    Returns:
        A :class:`PullDiff` with ``source = 'worktree'`` (``base`` = the merge base), or a
        one-line reason the snapshot failed (recorded on ``pr_worktrees`` when it got that far).
    """
    if not _SHA.match(head_sha) or number <= 0:
        return f"snapshot not attempted: head SHA {head_sha[:50]!r} / PR {number} malformed"
    stored = _stored(tx, repo, number, head_sha)
    if stored is not None:
        return stored
    if retry_after_s > 0:
        failed = tx.one(
            SQL_RECENT_FAILURE, repo=repo, number=number, head=head_sha,
            retry_after_s=float(retry_after_s),
        )  # fmt: skip
        if failed is not None:
            return str(failed["detail"])
    name = f"pr{number}-{head_sha[:12]}"
    try:
        if snapshotter is None:
            raise SnapshotError("no worktree directory configured (worktree_dir)")
        if not base_ref:
            raise SnapshotError("the run names no base branch")
        snap = snapshotter.snapshot(repo, number, base_ref, head_sha)
    except SnapshotError as exc:  # the port's documented failure: a reason, never a crash
        reason = f"snapshot failed: {exc}"
        tx.run(
            SQL_UPSERT_WORKTREE,
            repo=repo,
            number=number,
            head=head_sha,
            name=name,
            path="",
            base_ref=base_ref or "",
            base_sha=None,
            merge_base=None,
            status="failed",
            detail=reason[:500],
            file_count=0,
            diff_sha256=None,
            seconds=None,
        )
        return reason
    files, similarity = _files(snap)
    digest = hashlib.sha256(snap.patch.encode("utf-8", "surrogateescape")).hexdigest()
    record_files(
        tx,
        repo,
        number,
        head_sha,
        "worktree",
        files,
        merge_base=snap.merge_base,
        similarity=similarity,
    )
    tx.run(
        SQL_UPSERT_WORKTREE,
        repo=repo,
        number=number,
        head=head_sha,
        name=snap.name,
        path=str(snap.path),
        base_ref=base_ref,
        base_sha=snap.base_sha,
        merge_base=snap.merge_base,
        status="ready",
        detail=None,
        file_count=len(files),
        diff_sha256=digest,
        seconds=snap.seconds,
    )
    return PullDiff(
        "worktree",
        snap.patch,
        files,
        snap.merge_base,
        head_sha,
        note=f"snapshot {snap.path}",
        sha256=digest,
        worktree=snap.path,
    )


def worktrees_of(tx: Tx, repo: str, number: int) -> list[WorktreeRecord]:
    """Every snapshot allocation of PR ``number``, oldest first."""
    return [WorktreeRecord(**row) for row in tx.all(SQL_WORKTREES, repo=repo, number=number)]
