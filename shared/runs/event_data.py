"""The one mapping from a :class:`~shared.runs.model.Run` to the ``data`` of the events that
speak about it (:mod:`shared.models.events`). Each function builds its reply from these, so
the run's identity fields (repository, issue, attempt, PR, head SHA) are copied in one place.

A reply that is rebuilt for a duplicate event is built from the run as stored, so it carries
the same data as the first one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.argo.model import WorkflowCompletion
from shared.models.events import (
    CheckSummary,
    CiConcluded,
    JudgeDecided,
    PrMerged,
    Reason,
    ReviewConcluded,
    RunCompleted,
    RunEscalated,
    ThreadSummary,
)
from shared.runs.model import Run

__all__ = [
    "ci_concluded",
    "judge_decided",
    "judge_decided_as",
    "pr_merged",
    "review_concluded",
    "run_completed",
    "run_escalated",
]


def run_completed(run: Run, completion: WorkflowCompletion) -> RunCompleted:
    """``run.completed`` for ``run`` as recorded from ``completion``."""
    return RunCompleted(
        run_id=run.id,
        workflow_uid=completion.uid,
        workflow_name=run.workflow_name or completion.name,
        namespace=run.namespace or completion.namespace,
        phase=completion.phase,
        status=run.status,
        reason=run.reason,
        repository=run.repository,
        issue_number=run.issue_number,
        attempt=run.attempt,
        head_sha=run.head_sha,
        pr_number=run.pr_number,
    )


def ci_concluded(run: Run, verdict: str, summary: Mapping[str, Any]) -> CiConcluded:
    """``ci.concluded`` for ``run`` with ``verdict`` and its stored ``ci_summary``.

    Raises:
        ValueError: the run has no repository or head SHA (callers conclude only runs that
            have both).
    """
    repository, head_sha = run.commit()
    return CiConcluded(
        run_id=run.id,
        repository=repository,
        head_sha=head_sha,
        pr_number=run.pr_number,
        verdict=verdict,  # type: ignore[arg-type]
        failing=list(summary.get("failing") or []),
        checks=[CheckSummary.model_validate(c) for c in summary.get("checks") or []],
        reason=summary.get("reason"),
        wrong_app=list(summary.get("wrong_app") or []),
        base_sha=(summary.get("base") or {}).get("base_sha"),
    )


def review_concluded(run: Run, summary: Mapping[str, Any]) -> ReviewConcluded:
    """``review.concluded`` for ``run`` from a review summary (its ``verdict`` included).

    Raises:
        ValueError: the run names no pull request or head SHA.
    """
    repository, pr_number, head_sha = run.pull_target()
    return ReviewConcluded(
        run_id=run.id,
        repository=repository,
        pr_number=pr_number,
        head_sha=head_sha,
        verdict=summary["verdict"],
        reviewers=list(summary.get("reviewers") or []),
        unresolved_threads=[
            ThreadSummary.model_validate(t) for t in summary.get("unresolved_threads") or []
        ],
        next_prompt=summary.get("next_prompt"),
        reason=summary.get("reason"),
        waiting_for=list(summary.get("waiting_for") or []) if summary.get("reason") else [],
    )


def judge_decided(run: Run, evaluation: Mapping[str, Any]) -> JudgeDecided:
    """``judge.decided`` for ``run`` from its sealed evaluation (a ``codex_judge.evaluations``
    row with ``id``, ``decision``, ``reasons``, ``next_prompt``, ``judge_kind``)."""
    return judge_decided_as(
        run,
        evaluation,
        decision=evaluation["decision"],
        reasons=[Reason.model_validate(r) for r in evaluation["reasons"] or []],
        next_prompt=evaluation["next_prompt"],
    )


def judge_decided_as(
    run: Run,
    evaluation: Mapping[str, Any],
    *,
    decision: str,
    reasons: list[Reason],
    next_prompt: str | None,
) -> JudgeDecided:
    """``judge.decided`` for ``run`` and its evaluation (``id``, ``judge_kind``) with this
    ``decision`` (``pass``, ``needs_iteration``...), ``reasons`` and ``next_prompt``: the
    evaluation's own (:func:`judge_decided`) or an operator's that overrides it (approve,
    rerun: :mod:`shared.operator.actions`)."""
    return JudgeDecided(
        run_id=run.id,
        evaluation_id=evaluation["id"],
        decision=decision,
        reasons=reasons,
        next_prompt=next_prompt,
        judge_kind=evaluation["judge_kind"],
        repository=run.repository,
        issue_number=run.issue_number,
        attempt=run.attempt,
        pr_number=run.pr_number,
        head_sha=run.head_sha,
    )


def pr_merged(
    run: Run, *, merge_commit_sha: str | None, merge_method: str, dry_run: bool
) -> PrMerged:
    """``pr.merged`` for ``run``'s pull request, merged at its head SHA.

    Raises:
        ValueError: the run names no pull request or head SHA.
    """
    repository, pr_number, head_sha = run.pull_target()
    return PrMerged(
        run_id=run.id,
        repository=repository,
        pr_number=pr_number,
        head_sha=head_sha,
        merge_commit_sha=merge_commit_sha,
        merge_method=merge_method,  # type: ignore[arg-type]
        dry_run=dry_run,
    )


def run_escalated(run: Run, *, reason: str, message: str) -> RunEscalated:
    """``run.escalated`` for ``run``, gone ``needs_human`` for ``reason``."""
    return RunEscalated(
        run_id=run.id,
        reason=reason,
        message=message,
        repository=run.repository,
        issue_number=run.issue_number,
        attempt=run.attempt,
    )
