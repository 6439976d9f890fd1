"""Settings of the worktree snapshots (issue 13): where the judge clones a run's repository,
how it reaches it and how much it may spend; part of :class:`shared.settings.Settings`
(``CODEX_JUDGE_WORKTREE_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings


class WorktreeSettings(BaseSettings):
    """The ``worktree_*`` fields (read through :class:`shared.settings.Settings`)."""

    worktree_dir: Path | None = Field(
        default=None,
        description="ephemeral directory (the judge Service's emptyDir) holding one cached"
        " partial clone per repository and the snapshots' worktrees; unset → no snapshots,"
        " file lists come from GitHub",
    )
    worktree_clone_url: str = Field(
        default="https://github.com/{repo}.git",
        description="clone URL of a repository, {repo} = owner/name (GitHub Enterprise, or"
        " file:// in the local mesh); credentials never go here",
    )
    worktree_timeout_s: float = Field(
        default=120.0, gt=0, le=900, description="seconds one snapshot's git commands may take"
    )
    worktree_max_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1024 * 1024,
        description="bytes a repository's clone and worktree may use; more → the snapshot"
        " fails and GitHub's diff is the labelled fallback",
    )
    worktree_retry_after_s: float = Field(
        default=600.0,
        ge=0,
        description="seconds before a failed snapshot of the same head SHA is tried again"
        " (meanwhile the judge's passes use the labelled GitHub fallback at once)",
    )
    worktree_github_fallback: bool = Field(
        default=False,
        description="without a worktree holding both commits, read both sides of the change"
        " over GitHub's git data API for the anti-gaming inventory (a compare for the merge"
        " base, a tree per commit and a request per blob, trees and blobs cached in Postgres);"
        " off → the line-based gate, and a judged run keeps to issue 12's request budget",
    )
    worktree_keep: int = Field(
        default=4, ge=1, le=100, description="snapshot worktrees kept per repository (oldest go)"
    )
