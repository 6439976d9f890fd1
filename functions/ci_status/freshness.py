"""The optional base-freshness rule (issue 3 "CI gate"): green CI counts only when it ran on a
merge base no older than ``policy.base_max_commits_behind`` commits or
``policy.base_max_hours_behind`` hours behind the target branch; otherwise the verdict is
``stale_base`` with the merge base SHA (a rerun reason: rebase and push).

GitHub's ``GET /repos/{repo}/compare/{base_ref}...{head_sha}`` answers ``behind_by`` (commits on
the target branch the head lacks), the ``merge_base_commit`` and the ``base_commit`` (the
branch tip), each with its committer date. The target branch is the run's ``base_ref``, else
the projected pull request's, else GitHub's pull request.
"""

from __future__ import annotations

from shared.gates.ci import CiResult, base_is_stale
from shared.policy.model import Policy
from shared.runs import Run
from shared.runtime.outcomes import Context

SQL_PR_BASE = """
SELECT base_ref FROM github.pr_state WHERE repository = :repository AND pr_number = :number
"""


def applies(policy: Policy) -> bool:
    """Whether the policy asks for the rule at all."""
    return policy.base_max_commits_behind is not None or policy.base_max_hours_behind is not None


def check_base(run: Run, result: CiResult, policy: Policy, ctx: Context) -> CiResult:
    """Turn a ``success`` into ``stale_base`` when the merge base is too far behind.

    Returns:
        ``result`` unchanged when the rule does not apply, the base is fresh, or the target
        branch cannot be named (recorded in the log; the judge still sees the green CI).

    Raises:
        TransientError: GitHub failed or rate-limited the compare request.
        UpstreamNotFoundError: GitHub does not know the base or head (``commit``); the gate
            records it as a decision (``needs_human`` ``commit_not_found``).
    """
    if result.verdict != "success" or not applies(policy):
        return result
    repo, sha = run.commit()
    base_ref = run.base_ref
    if not base_ref and run.pr_number is not None:
        row = ctx.tx.one(SQL_PR_BASE, repository=repo, number=run.pr_number)
        base_ref = row["base_ref"] if row else None
        if not base_ref:
            pull = ctx.deps.github().get_pull(repo, run.pr_number)
            base_ref = pull.base.ref if pull else None
    if not base_ref:
        ctx.log.warning("base freshness skipped: no target branch", extra={"run_id": run.id})
        return result
    comparison = ctx.deps.github().compare_commits(repo, base_ref, sha)
    stale, hours = base_is_stale(
        policy,
        behind_by=comparison.behind_by,
        merge_base_at=comparison.merge_base.committed_at,
        base_tip_at=comparison.base.committed_at,
    )
    if not stale:
        return result
    return CiResult(
        "stale_base",
        checks=result.checks,
        wrong_app=result.wrong_app,
        base={
            "base_sha": comparison.merge_base.sha,
            "base_ref": base_ref,
            "base_head_sha": comparison.base.sha,
            "behind_by": comparison.behind_by,
            "hours_behind": None if hours is None else round(hours, 2),
        },
    )
