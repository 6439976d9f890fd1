"""Both sides of a change read over GitHub's git data API, for the anti-gaming inventory when no
worktree holds the two commits (issue 11: "else GitHub's contents API at the two SHAs, cached
by blob SHA"); the one writer of ``github.git_trees`` and ``github.git_blobs`` (migration 0017).

For each side (the merge base, the head): the commit's recursive tree (``GET
/repos/{repo}/git/trees/{sha}?recursive=1``, one request, kept per commit SHA), then the blob of
every path the inventory reads (:func:`shared.gates.inventory.sides.side_paths`) that the cache
lacks (``GET /repos/{repo}/git/blobs/{sha}``, kept per blob SHA). A file the change leaves alone
is one blob on both sides, so it is requested once; a second evaluation of the same commits costs
no request. The tree API is used rather than ``GET /contents/{path}?ref=`` because it names
every blob before any content is read: the cache is consulted by blob SHA, and the context
files (``pyproject.toml``, workflows) are found in the same listing.

A truncated tree listing (over 100,000 entries) or a change over
:data:`~shared.gates.inventory.sides.MAX_FILES` files gives None: the line-based gate judges it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Protocol

from shared.db import Tx
from shared.gates.inventory.model import ChangeSnapshot
from shared.gates.inventory.sides import MAX_FILES, side_paths, text_of
from shared.models.github import PullFile
from shared.ports import GitHub

__all__ = ["BlobCache", "InMemoryBlobCache", "PostgresBlobCache", "github_snapshot"]

SQL_TREE = """
SELECT entries FROM github.git_trees WHERE repository = :repo AND commit_sha = :sha
"""
SQL_PUT_TREE = """
INSERT INTO github.git_trees (repository, commit_sha, entries)
VALUES (:repo, :sha, CAST(:entries AS jsonb))
ON CONFLICT (repository, commit_sha) DO NOTHING
"""
SQL_BLOBS = """
SELECT blob_sha, content FROM github.git_blobs
 WHERE blob_sha IN (SELECT jsonb_array_elements_text(CAST(:shas AS jsonb)))
"""
SQL_PUT_BLOB = """
INSERT INTO github.git_blobs (blob_sha, content, bytes) VALUES (:sha, :content, :bytes)
ON CONFLICT (blob_sha) DO NOTHING
"""


class BlobCache(Protocol):
    """Trees (commit SHA → ``{path: blob SHA}``) and blob texts (blob SHA → text, None for a
    blob that is not text or too large) already read."""

    def tree(self, repo: str, sha: str) -> dict[str, str] | None:
        """The blob entries of commit ``sha``, or None when not cached."""

    def put_tree(self, repo: str, sha: str, entries: dict[str, str]) -> None:
        """Keep the blob entries of commit ``sha``."""

    def blobs(self, shas: Iterable[str]) -> dict[str, str | None]:
        """The cached texts among ``shas`` (absent keys: not cached)."""

    def put_blob(self, sha: str, text: str | None, size: int) -> None:
        """Keep blob ``sha`` (``size`` bytes) and its text (None: not read as text)."""


class PostgresBlobCache:
    """:class:`BlobCache` in ``github.git_trees``/``github.git_blobs``, in the caller's
    transaction."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    def tree(self, repo: str, sha: str) -> dict[str, str] | None:
        row = self._tx.one(SQL_TREE, repo=repo, sha=sha)
        return dict(row["entries"]) if row is not None else None

    def put_tree(self, repo: str, sha: str, entries: dict[str, str]) -> None:
        self._tx.run(SQL_PUT_TREE, repo=repo, sha=sha, entries=json.dumps(entries))

    def blobs(self, shas: Iterable[str]) -> dict[str, str | None]:
        rows = self._tx.all(SQL_BLOBS, shas=json.dumps(sorted(set(shas))))
        return {r["blob_sha"]: r["content"] for r in rows}

    def put_blob(self, sha: str, text: str | None, size: int) -> None:
        self._tx.run(SQL_PUT_BLOB, sha=sha, content=text, bytes=size)


class InMemoryBlobCache:
    """:class:`BlobCache` in dictionaries: one evaluation's reads (the benchmark, tests)."""

    def __init__(self) -> None:
        self.trees: dict[tuple[str, str], dict[str, str]] = {}
        self.texts: dict[str, str | None] = {}

    def tree(self, repo: str, sha: str) -> dict[str, str] | None:
        return self.trees.get((repo, sha))

    def put_tree(self, repo: str, sha: str, entries: dict[str, str]) -> None:
        self.trees[(repo, sha)] = dict(entries)

    def blobs(self, shas: Iterable[str]) -> dict[str, str | None]:
        return {s: self.texts[s] for s in shas if s in self.texts}

    def put_blob(self, sha: str, text: str | None, size: int) -> None:
        self.texts[sha] = text


def _tree(github: GitHub, cache: BlobCache, repo: str, sha: str) -> dict[str, str] | None:
    entries = cache.tree(repo, sha)
    if entries is None:
        listing = github.get_tree(repo, sha)
        if listing.truncated:
            return None
        entries = {e.path: e.sha for e in listing.tree if e.type == "blob"}
        cache.put_tree(repo, sha, entries)
    return entries


def github_snapshot(
    github: GitHub,
    cache: BlobCache,
    repo: str,
    merge_base: str,
    head: str,
    files: list[PullFile],
) -> ChangeSnapshot | None:
    """The changed files and the context files at ``merge_base`` and at ``head`` (see the
    module docstring); None when a tree listing is truncated or the change is too large.

    Args:
        github: the read port; cache: where trees and blobs already read are kept.
        repo: ``owner/name``; merge_base, head: 40-hex commit SHAs; files: the change's files
            (GitHub's PR file list or diff).

    Raises:
        TransientError / RateLimitedError / UpstreamNotFoundError: from the GitHub adapter.
    """
    if len(files) > MAX_FILES:
        return None
    trees = {
        side: _tree(github, cache, repo, sha)
        for side, sha in (("base", merge_base), ("head", head))
    }
    base_tree, head_tree = trees["base"], trees["head"]
    if base_tree is None or head_tree is None:
        return None
    paths = side_paths(files, head_tree)
    wanted = {tree[p] for tree in (base_tree, head_tree) for p in paths if p in tree}
    texts = cache.blobs(wanted)
    for sha in sorted(wanted - set(texts)):
        data = github.get_blob(repo, sha)
        texts[sha] = text_of(data)
        cache.put_blob(sha, texts[sha], len(data))

    def side(tree: dict[str, str]) -> dict[str, str]:
        out = {p: texts.get(tree[p]) for p in paths if p in tree}
        return {p: t for p, t in out.items() if t is not None}

    return ChangeSnapshot(base=side(base_tree), head=side(head_tree), source="github")
