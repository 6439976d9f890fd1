"""The changed files the judge's gates read, and where they came from (DESIGN §12 item 6;
issue 13): the first source that answers, recorded in the decision's inputs.

1. the worktree snapshot at the head SHA (:func:`shared.github.worktrees.snapshot_diff`: a
   partial clone diffed from the merge base, ``pr_files`` rows with ``source = 'worktree'``);
2. when the snapshot cannot be made — labelled with why (``diff_fallback``) — a configured
   local worktree's three-dot diff or GitHub's PR diff (:func:`shared.github.diffs.load_pull_diff`);
3. GitHub's PR file list when GitHub has no diff for it.

When the chosen diff comes with a directory holding both commits (the snapshot's worktree, or
the configured clone), both sides of every changed file are read from it for the anti-gaming
inventory (:func:`functions.judge.snapshot.worktree_snapshot`): the blobs are already local,
as the snapshot's patch needed them. Otherwise, when ``worktree_github_fallback`` is on, both
sides are read over GitHub's git data API at the merge base GitHub's compare names and the
head SHA (:func:`shared.github.contents.github_snapshot`, cached by blob SHA in Postgres); a
commit GitHub does not serve leaves the line-based gate, with the reason in
``inputs["inventory_fallback"]``.

A file list not from the snapshot is recorded as ``source = 'github'`` rows beside (never over)
the snapshot's, so ``codex-judge explain`` can name the source of every list.
"""

from __future__ import annotations

from typing import Any

from functions.judge.snapshot import worktree_snapshot
from shared.errors import UpstreamRejectedError
from shared.gates.diff import PullDiff
from shared.gates.inventory import ChangeSnapshot
from shared.github.contents import PostgresBlobCache, github_snapshot
from shared.github.diffs import load_pull_diff
from shared.github.worktrees import record_files, snapshot_diff
from shared.models.github import PullFile
from shared.runs import Run
from shared.runtime.outcomes import Context

__all__ = ["DEFAULT_DIFF_SOURCE", "pull_files"]

DEFAULT_DIFF_SOURCE = "github_pr_files"


def pull_files(
    ctx: Context, run: Run, inputs: dict[str, Any]
) -> tuple[list[PullFile], list[str], ChangeSnapshot | None]:
    """The files, unmerged paths and (from a worktree) both sides of the changed files of
    ``run``'s PR at its head SHA (see the module docstring).

    Args:
        ctx: the open transaction and dependencies.
        run: the locked run (repository, PR number, head SHA, base ref).
        inputs: the decision's inputs; ``diff_source``, ``diff_digest``, ``diff_note`` and
            ``diff_fallback`` are set here.

    Raises:
        TransientError / RateLimitedError / UpstreamNotFoundError: from the GitHub adapter.
    """
    settings, tx = ctx.deps.settings, ctx.tx
    github = ctx.deps.github()
    repo, number, sha = run.pull_target()
    snap = snapshot_diff(
        tx,
        ctx.deps.git_worktrees(),
        repo,
        number,
        run.base_ref,
        sha,
        retry_after_s=settings.worktree_retry_after_s,
    )
    unmerged: list[str] = []
    change: ChangeSnapshot | None = None
    if isinstance(snap, PullDiff):
        diff: PullDiff | None = snap
    else:
        inputs["diff_fallback"] = snap
        diff = load_pull_diff(
            github,
            repo,
            number,
            worktree_root=settings.diff_worktree_root,
            base=run.base_ref,
            head=sha,
        )
    if diff is not None:
        files, unmerged = diff.files, list(diff.unmerged_paths)
        inputs["diff_source"] = diff.source
        inputs["diff_digest"] = diff.digest()
        if diff.note:
            inputs["diff_note"] = diff.note
        if diff.source == "worktree" and diff.worktree and diff.base and diff.head:
            change = worktree_snapshot(diff.worktree, diff.base, diff.head, diff.files)
    else:
        files = github.list_pull_files(repo, number)
        inputs["diff_source"] = DEFAULT_DIFF_SOURCE
    if change is None and settings.worktree_github_fallback and run.base_ref:
        try:
            merge_base = github.compare_commits(repo, run.base_ref, sha).merge_base.sha
            change = github_snapshot(github, PostgresBlobCache(tx), repo, merge_base, sha, files)
            inputs["inventory_source"] = "github" if change is not None else None
        except UpstreamRejectedError as exc:  # 404/422 on a commit or blob (not-found too)
            inputs["inventory_fallback"] = str(exc)[:200]
    if inputs["diff_source"] != "worktree":
        record_files(tx, repo, number, sha, "github", files)
    ctx.log.info(
        "file list read",
        extra={
            "run_id": run.id,
            "head_sha": sha,
            "diff_source": inputs["diff_source"],
            "diff_fallback": inputs.get("diff_fallback"),
            "files": len(files),
        },
    )
    return files, unmerged, change
