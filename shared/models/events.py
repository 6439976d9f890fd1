"""The ``data`` of every event type we emit (DESIGN §3). ``make schemas`` writes their JSON
Schemas into ``schemas/``; a test fails when the checked-in files drift from these models.

Event types are reverse-DNS and versioned; a breaking change gets a new ``.vN`` type.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RUN_COMPLETED = "io.codexjudge.run.completed.v1"
CI_CONCLUDED = "io.codexjudge.ci.concluded.v1"
REVIEW_CONCLUDED = "io.codexjudge.review.concluded.v1"
JUDGE_DECIDED = "io.codexjudge.judge.decided.v1"
KAFKA_EVENT = "dev.knative.kafka.event"
PING_EVENT = "dev.knative.sources.ping"

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
    status: str
    conclusion: str | None = None
    details_url: str | None = None


class CiConcluded(_EventData):
    """``io.codexjudge.ci.concluded.v1``: the final CI verdict for the run's exact commit."""

    run_id: int
    repository: str
    head_sha: str
    pr_number: int | None = None
    verdict: Literal["success", "failure"]
    failing: list[str] = Field(default_factory=list, description="names of failing checks")
    checks: list[CheckSummary] = Field(default_factory=list)


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
        "approved", "changes_requested", "unresolved_threads", "commented", "not_required"
    ] = Field(description="not_required: the policy needs no AI review and nothing blocks")
    reviewers: list[str] = Field(default_factory=list, description="AI reviewers that reviewed")
    unresolved_threads: list[ThreadSummary] = Field(default_factory=list)
    next_prompt: str | None = None


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


EVENT_MODELS: dict[str, type[BaseModel]] = {
    RUN_COMPLETED: RunCompleted,
    CI_CONCLUDED: CiConcluded,
    REVIEW_CONCLUDED: ReviewConcluded,
    JUDGE_DECIDED: JudgeDecided,
}
