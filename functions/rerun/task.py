"""What a rerun sends: the protobuf ``CodexTask`` for Facteur and the Argo submission, built
from the judged run and its sealed decision. Pure: no I/O.

The next attempt starts from the same branch (``head``) against the same base, with the judge's
``next_prompt`` and a review context of the unresolved review threads and failing checks the
judge saw (issue 5 "rerun"; DESIGN §1: "a rerun of the agent is submitted with a precise
next_prompt"). Labels carry the run metadata in the keys :mod:`shared.argo.metadata` reads back
when the new run completes, so the new run lands on the right (repository, issue, attempt).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.facteur.codex_task_pb2 import (
    CODEX_TASK_STAGE_IMPLEMENTATION,
    CodexFailingCheck,
    CodexIterationsPolicy,
    CodexReviewContext,
    CodexReviewThread,
    CodexTask,
)

IMPROVEMENT_LABEL = "codex-judge.io/improvement"
RERUN_OF_LABEL = "codex-judge.io/rerun-of"
#: Argo sets this label on a workflow submitted from a WorkflowTemplate.
TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
METADATA_VERSION = 1


@dataclass(frozen=True)
class RerunPlan:
    """One submission: the judged run's identity and what the next attempt must do.

    Attributes:
        run_id: the judged run (status ``needs_iteration``).
        repository: ``owner/name``.
        issue_number, attempt: the issue and the *new* attempt number (1-based).
        max_attempts: the policy's cap (sent as the iteration cycle).
        delivery_id: the idempotency key ``rerun:<run_id>:<attempt>``.
        prompt: the next prompt.
        base, head: base branch and head branch (the PR's); head SHA of the judged attempt.
    """

    run_id: int
    repository: str
    issue_number: int
    attempt: int
    max_attempts: int
    delivery_id: str
    prompt: str
    base: str
    head: str
    head_sha: str | None
    issue_url: str
    issue_title: str
    issue_body: str
    failing_checks: list[dict[str, Any]]
    review_threads: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    #: The pull request the attempt continues (same head branch); None when there is none yet.
    pr_number: int | None = None


def delivery_id(run_id: int, attempt: int) -> str:
    """The idempotency key of a rerun: ``rerun:<run_id>:<attempt>``."""
    return f"rerun:{run_id}:{attempt}"


def failing_checks(ci_summary: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The failing checks of a CI summary (``runs.ci_summary``), as
    ``{name, conclusion, url}``; names in ``failing`` without a check object keep only a name."""
    summary = ci_summary or {}
    failing = [str(name) for name in summary.get("failing") or []]
    checks = {str(c.get("name")): c for c in summary.get("checks") or [] if isinstance(c, dict)}
    return [
        {
            "name": name,
            "conclusion": checks.get(name, {}).get("conclusion"),
            "url": checks.get(name, {}).get("details_url"),
        }
        for name in failing
    ]


def review_threads(review_summary: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The unresolved review threads of a review summary, as ``{summary, url, author}``."""
    out = []
    for thread in (review_summary or {}).get("unresolved_threads") or []:
        if not isinstance(thread, dict):
            continue
        where = f"{thread.get('path')}:{thread.get('line')} " if thread.get("path") else ""
        out.append(
            {
                "summary": f"{where}{thread.get('body') or ''}".strip(),
                "url": thread.get("url"),
                "author": thread.get("author"),
            }
        )
    return out


def codex_task(plan: RerunPlan, *, issued_at: datetime | None = None) -> CodexTask:
    """The ``CodexTask`` (stage IMPLEMENTATION) Facteur receives for ``plan``."""
    task = CodexTask(
        stage=CODEX_TASK_STAGE_IMPLEMENTATION,
        prompt=plan.prompt,
        repository=plan.repository,
        base=plan.base,
        head=plan.head,
        issue_number=plan.issue_number,
        issue_url=plan.issue_url,
        issue_title=plan.issue_title,
        issue_body=plan.issue_body,
        sender="codex-judge",
        delivery_id=plan.delivery_id,
        metadata_version=METADATA_VERSION,
        iteration=plan.attempt,
        iteration_cycle=plan.max_attempts,
        autonomous=True,
    )
    task.issued_at.FromDatetime(issued_at or datetime.now(UTC))
    context = CodexReviewContext(
        summary=f"Attempt {plan.attempt - 1} of this issue needs iteration.",
        additional_notes=[f"{r.get('code')}: {r.get('message')}" for r in plan.reasons],
    )
    for thread in plan.review_threads:
        context.review_threads.append(
            CodexReviewThread(
                summary=thread["summary"], url=thread.get("url"), author=thread.get("author")
            )
        )
    for check in plan.failing_checks:
        context.failing_checks.append(
            CodexFailingCheck(
                name=check["name"], conclusion=check.get("conclusion"), url=check.get("url")
            )
        )
    task.review_context.CopyFrom(context)
    task.iterations.CopyFrom(
        CodexIterationsPolicy(mode="fixed", count=1, max=plan.max_attempts, reason="rerun")
    )
    return task


def argo_labels(plan: RerunPlan) -> dict[str, str]:
    """Labels of the rerun workflow: the run metadata in Argo-valid values (no ``/``)."""
    owner, _, name = plan.repository.partition("/")
    labels = {
        "codex-judge.io/repository-owner": owner,
        "codex-judge.io/repository-name": name,
        "codex-judge.io/issue-number": str(plan.issue_number),
        "codex-judge.io/attempt": str(plan.attempt),
        RERUN_OF_LABEL: str(plan.run_id),
    }
    if plan.head_sha:
        labels["codex-judge.io/head-sha"] = plan.head_sha
    if plan.pr_number:
        labels["codex-judge.io/pr-number"] = str(plan.pr_number)
    return labels


def argo_parameters(plan: RerunPlan) -> dict[str, str]:
    """``spec.arguments.parameters`` of the rerun workflow (names :mod:`shared.argo.metadata`
    reads back), plus ``prompt`` and ``delivery_id``."""
    return {
        "repository": plan.repository,
        "issue_number": str(plan.issue_number),
        "attempt": str(plan.attempt),
        "base_ref": plan.base,
        "head_ref": plan.head,
        "issue_url": plan.issue_url,
        "prompt": plan.prompt,
        "delivery_id": plan.delivery_id,
    }


def argo_annotations(plan: RerunPlan) -> dict[str, str]:
    """Annotations: the idempotency key (``:`` is fine in an annotation, not in a label)."""
    return {"codex-judge.io/delivery-id": plan.delivery_id}


def is_improvement_run(labels: Mapping[str, Any] | None) -> bool:
    """Whether a run is an improvement run (label ``codex-judge.io/improvement: "true"``)."""
    return str((labels or {}).get(IMPROVEMENT_LABEL, "")).lower() == "true"


def workflow_template(labels: Mapping[str, Any] | None, default: str) -> str:
    """The WorkflowTemplate to rerun: the one the judged run came from, else ``default``."""
    value = (labels or {}).get(TEMPLATE_LABEL)
    return str(value) if value else default
