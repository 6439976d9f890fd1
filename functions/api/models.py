"""The api's query parameters and JSON answers as pydantic models: the single source of its
schemas. The OpenAPI document (:mod:`functions.api.openapi`) is generated from these; the
handlers validate queries with them and serialise answers through them.

The dead letters' models live with their reader (:mod:`shared.operator.dead_letters`), shared
with the command line. Times are RFC 3339 with a zone (UTC from the database); durations are
seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.models.events import Decision, RunStatus
from shared.operator.pages import MAX_PAGE

#: A GitHub owner or repository name in a path (letters, digits, ``-``, ``_``, ``.``).
NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
REPOSITORY_PATTERN = r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"
#: The largest issue or pull request number (Postgres ``integer`` columns; GitHub's are smaller).
MAX_NUMBER = 2**31 - 1
#: The largest row id a path takes (18 digits: within Postgres ``bigint``).
MAX_ID = 10**18 - 1
#: Path parameters that are issue or pull request numbers, not row ids.
NUMBER_PARAMS = frozenset({"number"})


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- queries ---------------------------------------------------------------------------------


class RunQuery(_Model):
    """``GET /api/runs``: every filter is optional; newest first; ``cursor`` from the page
    before (keyset on the run id, so a page never repeats or skips a run)."""

    repository: str | None = Field(
        default=None, pattern=REPOSITORY_PATTERN, description="owner/name"
    )
    issue: int | None = Field(default=None, ge=1, le=MAX_NUMBER, description="issue number")
    status: RunStatus | None = None
    decision: Decision | None = None
    reason: str | None = Field(default=None, max_length=200, description="exact reason code")
    since: AwareDatetime | None = Field(default=None, description="created at or after")
    until: AwareDatetime | None = Field(default=None, description="created before")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="page size")
    cursor: str | None = Field(default=None, max_length=100, description="next_cursor of a page")


class IssueQuery(_Model):
    """``GET /api/issues``: per (repository, issue) summaries, newest activity first."""

    repository: str | None = Field(default=None, pattern=REPOSITORY_PATTERN)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)


# --- answers ---------------------------------------------------------------------------------


class Error(_Model):
    """Every 4xx/5xx body but 401's (which says nothing): what is wrong and which field."""

    error: str
    message: str
    field: str | None = None


class RunSummary(_Model):
    """One run as the list shows it."""

    id: int
    repository: str | None
    issue_number: int | None
    attempt: int | None
    status: RunStatus
    decision: str | None
    reason: str | None
    pr_number: int | None
    pr_url: str | None
    head_sha: str | None
    workflow_name: str | None
    created_at: datetime
    updated_at: datetime


class RunPage(_Model):
    items: list[RunSummary]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: last")


class Evaluation(_Model):
    """A sealed evaluation: the verdict, its reasons and the record of what the judge saw."""

    id: int
    decision: Decision
    reasons: list[dict[str, Any]]
    next_prompt: str | None
    judge_kind: str
    model: str | None
    confidence: float | None
    policy_hash: str
    fingerprint: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    seal: dict[str, Any] | None = Field(description="the sealed decision record")
    created_at: datetime


class Artifact(_Model):
    name: str
    bucket: str | None
    key: str | None
    url: str | None
    endpoint: str | None


class Effect(_Model):
    """An external write through the effects outbox, with its request and response."""

    idempotency_key: str
    kind: str
    state: Literal["claimed", "done", "failed"]
    request: dict[str, Any]
    response: dict[str, Any] | None
    attempts: int
    error: str | None
    claimed_at: datetime
    completed_at: datetime | None


class Timer(_Model):
    owner: str
    kind: str
    due_at: datetime
    done_at: datetime | None
    attempts: int
    last_error: str | None


class TimelineEntry(_Model):
    """One event a function processed for this run (``runtime.inbox``), in order."""

    consumer: str = Field(description="the function (Knative Service) that processed it")
    event_type: str
    source: str
    event_id: str
    reply_type: str | None = Field(description="the event it replied with, if any")
    received_at: datetime


class OperatorAction(_Model):
    id: int
    action: str
    actor: str
    outcome: str | None
    status_code: int | None
    comment: str | None
    created_at: datetime


class Links(_Model):
    issue: str | None
    pull_request: str | None
    workflow: str | None


class RunDetail(_Model):
    """One run with everything that explains it."""

    run: RunSummary
    links: Links
    evaluations: list[Evaluation]
    artifacts: list[Artifact]
    effects: list[Effect]
    timers: list[Timer]
    timeline: list[TimelineEntry]
    actions: list[OperatorAction]


class IssueSummary(_Model):
    repository: str
    issue_number: int
    runs: int
    attempts: int = Field(description="highest attempt number")
    latest_run_id: int
    latest_status: RunStatus
    completed: bool = Field(description="some attempt completed")
    last_activity: datetime


class IssueStats(_Model):
    issues: int
    completion_rate: float | None = Field(description="share of issues with a completed run")
    average_attempts: float | None
    failure_reasons: dict[str, int] = Field(description="reason code → runs")
    average_ci_duration_s: float | None = Field(description="run created → CI concluded")
    average_confidence: float | None = Field(description="judge confidence over evaluations")


class IssueReport(_Model):
    items: list[IssueSummary]
    stats: IssueStats


class Health(_Model):
    function: str
    ready: bool
