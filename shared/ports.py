"""Ports: what the use cases need from the outside world (DESIGN §7).

Adapters (``shared/adapters``) implement these over HTTP; fakes (``shared/fakes``) are HTTP
servers that speak the same wire protocol, so one contract suite runs against both.
Every method raises :class:`shared.errors.TransientError` subclasses for failures a retry may
cure (``RateLimitedError`` with ``retry_after`` seconds, ``UpstreamError`` for 5xx/timeouts)
and :class:`shared.errors.PermanentError` subclasses for answers that will not change.
An API error is never returned as an empty result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.models.github import (
    CheckRun,
    CombinedStatus,
    PullFile,
    PullRequest,
    Review,
    ReviewThread,
)


class GitHub(Protocol):
    """Reads from the GitHub REST and GraphQL APIs. ``repo`` is ``owner/name``."""

    def get_pull(self, repo: str, number: int) -> PullRequest | None:
        """``GET /repos/{repo}/pulls/{number}``; None when GitHub answers 404."""

    def list_pull_files(self, repo: str, number: int) -> list[PullFile]:
        """Every page of ``GET /repos/{repo}/pulls/{number}/files``."""

    def list_check_runs(self, repo: str, sha: str) -> list[CheckRun]:
        """Every page of ``GET /repos/{repo}/commits/{sha}/check-runs?per_page=100``."""

    def get_combined_status(self, repo: str, sha: str) -> CombinedStatus:
        """``GET /repos/{repo}/commits/{sha}/status`` (every page of statuses)."""

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Every page of ``GET /repos/{repo}/pulls/{number}/reviews``, oldest first."""

    def list_review_threads(self, repo: str, number: int) -> list[ReviewThread]:
        """Every page of the GraphQL ``pullRequest.reviewThreads`` connection."""


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class ChatResult:
    """One chat completion choice: ``content`` (JSON text for structured output) or
    ``refusal``; ``finish_reason`` stop|length|content_filter|tool_calls; ``usage`` tokens."""

    content: str | None
    refusal: str | None
    finish_reason: str | None
    model: str
    usage: dict[str, Any] = field(default_factory=dict)


class LanguageModel(Protocol):
    """An OpenAI-compatible chat completions endpoint with structured outputs."""

    def complete_json(
        self, messages: list[ChatMessage], *, schema_name: str, schema: dict[str, Any]
    ) -> ChatResult:
        """``POST /chat/completions`` with ``response_format`` ``json_schema`` (strict)."""


@dataclass(frozen=True)
class DiscordMessage:
    """What Discord acknowledged: the message id (webhook ``?wait=true``) and channel."""

    id: str | None
    channel_id: str | None = None


class Discord(Protocol):
    """A Discord webhook (``POST /api/webhooks/{id}/{token}?wait=true``)."""

    def post(self, content: str) -> DiscordMessage:
        """Post one message of at most 2000 characters.

        Raises:
            RateLimitedError: 429, with Discord's ``retry_after`` (seconds).
        """
