"""The ``data`` of every event type we emit (DESIGN §3). ``make schemas`` writes their JSON
Schemas into ``schemas/``; a test fails when the checked-in files drift from these models.

Event types are reverse-DNS and versioned; a breaking change gets a new ``.vN`` type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RUN_COMPLETED = "io.codexjudge.run.completed.v1"
CI_CONCLUDED = "io.codexjudge.ci.concluded.v1"
REVIEW_CONCLUDED = "io.codexjudge.review.concluded.v1"
JUDGE_DECIDED = "io.codexjudge.judge.decided.v1"
PR_MERGED = "io.codexjudge.pr.merged.v1"
RERUN_SUBMITTED = "io.codexjudge.rerun.submitted.v1"
RUN_ESCALATED = "io.codexjudge.run.escalated.v1"
VERIFICATION_COMPLETED = "io.codexjudge.verification.completed.v1"
DEPLOY_VERIFIED = "io.codexjudge.deploy.verified.v1"
DEPLOY_FAILED = "io.codexjudge.deploy.failed.v1"
KAFKA_EVENT = "dev.knative.kafka.event"
PING_EVENT = "dev.knative.sources.ping"
TIMERS_DUE = "io.codexjudge.timers.due.v1"
#: The extension attribute of ``timers.due`` naming the timer owner (a Knative Service name);
#: each owner's Trigger filters on it (CloudEvents extension names are lowercase alphanumeric).
TIMER_OWNER_EXTENSION = "timerowner"

RunStatus = Literal[
    "notified",
    "run_complete",
    "waiting_for_ci",
    "waiting_for_review",
    "judging",
    "merging",
    "deploying",
    "verifying",
    "completed",
    "needs_iteration",
    "needs_human",
    "superseded",
]
Decision = Literal["pass", "needs_iteration", "needs_human"]


class _EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunCompleted(_EventData):
    """``io.codexjudge.run.completed.v1``: a finished Argo workflow, upserted as a run."""

    run_id: int
    workflow_uid: str
    workflow_name: str | None = None
    namespace: str | None = None
    phase: str = Field(description="Argo phase: Succeeded, Failed or Error")
    status: RunStatus
    reason: str | None = None
    repository: str | None = Field(default=None, description="owner/name")
    issue_number: int | None = None
    attempt: int | None = None
    head_sha: str | None = Field(default=None, description="40-hex commit SHA the run produced")
    pr_number: int | None = None


class CheckSummary(_EventData):
    name: str
    kind: Literal["check_run", "status"]
    app: str | None = None
    app_id: int | None = Field(default=None, description="the reporting GitHub App's id")
    status: str
    conclusion: str | None = None
    details_url: str | None = None


class CiConcluded(_EventData):
    """``io.codexjudge.ci.concluded.v1``: the final CI verdict for the run's exact commit."""

    run_id: int
    repository: str
    head_sha: str
    pr_number: int | None = None
    verdict: Literal["success", "failure", "stale_base"] = Field(
        description="stale_base: CI is green but ran on a merge base too far behind the target"
        " branch (a rerun reason; see base_sha)"
    )
    failing: list[str] = Field(default_factory=list, description="names of failing checks")
    checks: list[CheckSummary] = Field(default_factory=list)
    reason: str | None = Field(
        default=None,
        description="why a failure was concluded without a failing check: ci_timeout (required"
        " checks never concluded before policy.ci_timeout_s; failing names them)",
    )
    wrong_app: list[str] = Field(
        default_factory=list,
        description="required checks reported only by a GitHub App other than the pinned one",
    )
    base_sha: str | None = Field(
        default=None, description="stale_base: the merge base CI ran on (40-hex)"
    )


class ThreadSummary(_EventData):
    thread_id: str
    path: str | None = None
    line: int | None = None
    author: str | None = None
    body: str = ""
    url: str | None = None


class ReviewConcluded(_EventData):
    """``io.codexjudge.review.concluded.v1``: the AI-review verdict at the head SHA."""

    run_id: int
    repository: str
    pr_number: int
    head_sha: str
    verdict: Literal[
        "approved",
        "changes_requested",
        "unresolved_threads",
        "commented",
        "not_required",
        "timed_out",
    ] = Field(
        description="not_required: the policy needs no AI review and nothing blocks; timed_out:"
        " no final review before policy.review_timeout_s (reason review_timeout)"
    )
    reviewers: list[str] = Field(default_factory=list, description="AI reviewers that reviewed")
    unresolved_threads: list[ThreadSummary] = Field(default_factory=list)
    next_prompt: str | None = None
    reason: str | None = Field(default=None, description="review_timeout for a timed_out verdict")
    waiting_for: list[str] = Field(
        default_factory=list, description="timed_out: what never came (ai_review, human_approval)"
    )


class Reason(_EventData):
    code: str = Field(description="machine-readable, e.g. ci_failed, missing_run_metadata")
    message: str


class JudgeDecided(_EventData):
    """``io.codexjudge.judge.decided.v1``: the sealed decision for one run."""

    run_id: int
    evaluation_id: int
    decision: Decision
    reasons: list[Reason] = Field(default_factory=list)
    next_prompt: str | None = None
    judge_kind: Literal["deterministic", "offline", "llm"] = Field(
        description="deterministic: a gate decided before any judge; offline: no language "
        "model configured; llm: the language model judged"
    )
    repository: str | None = None
    issue_number: int | None = None
    attempt: int | None = None
    pr_number: int | None = None
    head_sha: str | None = None


class RerunSubmitted(_EventData):
    """``io.codexjudge.rerun.submitted.v1``: the next attempt of an issue was handed to Facteur
    or Argo (or recorded only, when ``dry_run``). The new run arrives later via run-complete."""

    run_id: int = Field(description="the judged run that needed iteration")
    repository: str
    issue_number: int
    attempt: int = Field(description="the new attempt number (unique per repository and issue)")
    target: Literal["facteur", "argo"]
    delivery_id: str = Field(description="the idempotency key rerun:<run_id>:<attempt>")
    dry_run: bool = False
    workflow_name: str | None = Field(default=None, description="Argo workflow, when known")


class RunEscalated(_EventData):
    """``io.codexjudge.run.escalated.v1``: a run went to ``needs_human`` outside the judge
    (``attempts_exhausted``, ``submission_failed``, ``improvement_not_rerun`` …)."""

    run_id: int
    reason: str = Field(description="machine-readable, e.g. attempts_exhausted")
    message: str
    repository: str | None = None
    issue_number: int | None = None
    attempt: int | None = None


class PrMerged(_EventData):
    """``io.codexjudge.pr.merged.v1``: the judged pull request was merged at the judged head SHA
    (or, with ``dry_run``, would have been: nothing was sent and ``merge_commit_sha`` is None)."""

    run_id: int
    repository: str = Field(description="owner/name")
    pr_number: int
    head_sha: str = Field(description="the judged head SHA the merge was pinned to (40-hex)")
    merge_commit_sha: str | None = Field(
        default=None, description="the merge, squash or rebase commit GitHub created (40-hex)"
    )
    merge_method: Literal["merge", "squash", "rebase"]
    dry_run: bool = False


#: The label deploy puts on a post-deploy verification workflow; its value is the run id.
VERIFIES_RUN_LABEL = "codex-judge.io/verifies-run"
#: The label deploy puts on a deploy workflow; its completion is not a Codex run.
DEPLOYS_RUN_LABEL = "codex-judge.io/deploys-run"


class VerificationCompleted(_EventData):
    """``io.codexjudge.verification.completed.v1``: a post-deploy verification workflow (an
    Argo workflow labelled ``codex-judge.io/verifies-run: "<run_id>"``) finished. It is not a
    new run; run-complete forwards it to deploy."""

    run_id: int = Field(description="the run whose deploy this workflow verifies")
    workflow_uid: str
    workflow_name: str | None = None
    namespace: str | None = None
    phase: str = Field(description="Argo phase: Succeeded, Failed or Error")
    finished_at: str | None = Field(default=None, description="RFC 3339, as Argo reported it")
    message: str | None = Field(default=None, description="Argo's status.message")
    revision: str | None = Field(
        default=None, description="the SHA the workflow verified (its `revision` parameter)"
    )
    failed_steps: list[str] = Field(
        default_factory=list, description="display names of the failed leaf nodes (the tests)"
    )


class DeployRemedy(_EventData):
    """What was done about a failed deploy: a revert PR or an Argo CD rollback."""

    kind: Literal["revert_pr", "rollback", "none"]
    outcome: str = Field(description="success, dry_run, repository_not_allowed, rejected_<status>")
    url: str | None = None
    number: int | None = None
    revision: str | None = Field(default=None, description="rollback: the revision restored")


class DeployVerified(_EventData):
    """``io.codexjudge.deploy.verified.v1``: the merge commit runs and its verification passed."""

    run_id: int
    repository: str
    pr_number: int
    merge_commit_sha: str
    mode: Literal["argocd", "argo_workflow"]
    revision: str = Field(description="the SHA running in the cluster (equals the merge commit)")
    verify_workflow: str | None = None


class DeployFailed(_EventData):
    """``io.codexjudge.deploy.failed.v1``: the deploy or its verification failed; the run is
    ``needs_iteration`` (reason ``post_deploy_failed``) and the merge was reverted or rolled
    back by policy."""

    run_id: int
    repository: str
    pr_number: int
    merge_commit_sha: str
    mode: Literal["argocd", "argo_workflow"]
    reason: Literal[
        "verification_failed",
        "sync_failed",
        "deploy_failed",
        "revision_mismatch",
        "deploy_timeout",
    ]
    message: str
    failing_tests: list[str] = Field(default_factory=list)
    next_prompt: str | None = None
    remedy: DeployRemedy | None = None


class TimersDue(_EventData):
    """``io.codexjudge.timers.due.v1``: the scheduler's wake-up for one timer owner (DESIGN §4
    "Ticks: only work that is due wakes a function"). The extension ``timerowner`` names the
    owner; its Trigger matches that, and the owner handles it as a tick (its due timers, its
    orphaned waits). Sent only when the owner has work; the id is ``<tick id>:<owner>``."""

    owner: str = Field(description="the Knative Service that owns the timers, e.g. ci-status")
    due: int = Field(ge=0, description="how many of its timers were due at the tick")
    oldest_due_at: datetime | None = Field(
        default=None, description="the earliest due time among them (UTC); null when none is due"
    )
    adopt: bool = Field(
        default=False,
        description="runs wait on this owner without a pending timer of it: it adopts them"
        " (a deadline and an immediate reconcile)",
    )


EVENT_MODELS: dict[str, type[BaseModel]] = {
    RUN_COMPLETED: RunCompleted,
    CI_CONCLUDED: CiConcluded,
    REVIEW_CONCLUDED: ReviewConcluded,
    JUDGE_DECIDED: JudgeDecided,
    PR_MERGED: PrMerged,
    RERUN_SUBMITTED: RerunSubmitted,
    RUN_ESCALATED: RunEscalated,
    VERIFICATION_COMPLETED: VerificationCompleted,
    DEPLOY_VERIFIED: DeployVerified,
    DEPLOY_FAILED: DeployFailed,
    TIMERS_DUE: TimersDue,
}
