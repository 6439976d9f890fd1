"""The body the Codex wrapper POSTs to notify (DESIGN §4): run enrichment, merged never
overwritten (DESIGN §12 item 10)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class NotifyPayload(BaseModel):
    """What the wrapper knows about its run; unknown keys are kept as sent.

    Attributes:
        workflow_uid: the Argo workflow uid (``metadata.uid``): the run's identity. Required.
        workflow_name, namespace: the workflow's name and namespace.
        repository: ``owner/name``; issue_number, pr_number: positive integers.
        head_sha: the commit the agent pushed (40 hex); head_ref: its branch.
        pr_url: the pull request's HTML URL.
        prompt, summary, log_excerpt: the agent's prompt, its final summary, a log tail.
        events: Codex ``exec --json`` events (one object per JSONL line; a JSONL string is
            also accepted), backfilled into ``workflow_comms.agent_messages``.
    """

    model_config = ConfigDict(extra="allow")

    workflow_uid: str = Field(min_length=1)
    workflow_name: str | None = None
    namespace: str | None = None
    repository: str | None = None
    issue_number: int | None = Field(default=None, gt=0)
    head_sha: str | None = None
    head_ref: str | None = None
    pr_number: int | None = Field(default=None, gt=0)
    pr_url: str | None = None
    prompt: str | None = None
    summary: str | None = None
    log_excerpt: str | None = None
    events: list[dict[str, Any]] | None = None

    @field_validator("events", mode="before")
    @classmethod
    def _jsonl(cls, value: Any) -> Any:
        """A JSONL string (the raw ``codex exec --json`` output) becomes a list of objects."""
        if isinstance(value, str):
            try:
                return [json.loads(line) for line in value.splitlines() if line.strip()]
            except json.JSONDecodeError as exc:
                raise ValueError(f"events: line is not JSON ({exc.msg})") from exc
        return value

    def stored(self) -> dict[str, Any]:
        """The keys to merge into ``runs.notify_payload`` (fields left unset are not sent, so
        they cannot erase what an earlier notify stored)."""
        return self.model_dump(mode="json", exclude_unset=True)
