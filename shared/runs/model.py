"""The run as a typed value: one row of ``codex_judge.runs`` (migration 0001), frozen.

Rows leave the run store only as :class:`Run` (STYLE "rows leave it as frozen typed models, not
dicts"); :meth:`Run.from_row` is the one place a row becomes a run. The statuses and the
terminal set are defined here once; the table's generated ``active`` column says the same in
SQL (``status NOT IN`` the terminal set), and a unit test checks the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field

from shared.models.events import RunStatus

__all__ = [
    "ACTIVE_STATUSES",
    "STATUSES",
    "TERMINAL_STATUSES",
    "Commit",
    "PullTarget",
    "Run",
    "RunStatus",
]

#: Every run status, in pipeline order (DESIGN §5).
STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
#: Statuses a run never leaves (DESIGN §5 "the terminal set is defined once").
TERMINAL_STATUSES: frozenset[RunStatus] = frozenset(
    {"completed", "needs_iteration", "needs_human", "superseded"}
)
#: Statuses of a run still on its way (the ``active`` column is true exactly for these).
ACTIVE_STATUSES: tuple[RunStatus, ...] = tuple(s for s in STATUSES if s not in TERMINAL_STATUSES)


class Commit(NamedTuple):
    """The commit a run produced: ``owner/name`` and its 40-hex head SHA."""

    repository: str
    head_sha: str


class PullTarget(NamedTuple):
    """The pull request a run opened, at its head SHA (40-hex)."""

    repository: str
    pr_number: int
    head_sha: str


class Run(BaseModel):
    """One run: an Argo workflow of the Codex agent and everything decided about it.

    Attributes mirror the columns of ``codex_judge.runs``. SHAs are 40-hex text, timestamps
    are timezone-aware (UTC from Postgres ``timestamptz``); jsonb columns are decoded JSON.
    ``ci_summary`` / ``review_summary`` are the gates' summaries (None until they conclude);
    ``notify_payload`` is the Codex wrapper's merged payload; ``labels`` / ``parameters`` the
    workflow's.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: int
    workflow_uid: str
    workflow_name: str | None = None
    namespace: str | None = None
    repository: str | None = Field(default=None, description="owner/name")
    issue_number: int | None = None
    attempt: int | None = None
    attempt_source: str | None = Field(default=None, description="workflow or computed")
    head_sha: str | None = None
    head_ref: str | None = None
    base_ref: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    issue_url: str | None = None
    workflow_url: str | None = None
    phase: str | None = Field(default=None, description="Argo phase: Succeeded, Failed, Error")
    finished_at: datetime | None = None
    status: RunStatus
    active: bool
    reason: str | None = None
    decision: str | None = None
    ci_verdict: str | None = None
    ci_summary: dict[str, Any] | None = None
    ci_concluded_at: datetime | None = None
    review_verdict: str | None = None
    review_summary: dict[str, Any] | None = None
    review_concluded_at: datetime | None = None
    notify_payload: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Run:
        """The run of one ``SELECT *`` (or ``RETURNING *``) row of ``codex_judge.runs``.

        Raises:
            pydantic.ValidationError: the row lacks a column or has one of another type (a
                schema drift between the migrations and this model: a programming error).
        """
        return cls.model_validate(dict(row))

    @property
    def terminal(self) -> bool:
        """Whether the run has ended (its status is in :data:`TERMINAL_STATUSES`)."""
        return self.status in TERMINAL_STATUSES

    def escalated_for(self, reason: str) -> bool:
        """Whether the run is ``needs_human`` for ``reason`` (a repeated escalation)."""
        return self.status == "needs_human" and self.reason == reason

    @property
    def names_pull_request(self) -> bool:
        """Whether the run names a repository, a pull request and a head SHA."""
        return bool(self.repository and self.pr_number and self.head_sha)

    def commit(self) -> Commit:
        """The run's repository and head SHA.

        Raises:
            ValueError: the run lacks one (callers check first: a run without them is
                answered, never gated).
        """
        if not (self.repository and self.head_sha):
            raise ValueError(f"run {self.id} names no repository or head SHA")
        return Commit(self.repository, self.head_sha)

    def pull_target(self) -> PullTarget:
        """The run's repository, pull request number and head SHA.

        Raises:
            ValueError: the run lacks one (callers check :attr:`names_pull_request` first).
        """
        if not (self.repository and self.pr_number and self.head_sha):
            raise ValueError(f"run {self.id} names no pull request or head SHA")
        return PullTarget(self.repository, self.pr_number, self.head_sha)
