"""How long each growing table keeps a row nothing needs any more, deleted by the scheduler's
tick (issue 12; the rules per table in :mod:`functions.scheduler.retention`); part of
:class:`shared.settings.Settings` (``CODEX_JUDGE_RETENTION_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class RetentionSettings(BaseSettings):
    """The ``retention_*`` fields (read through :class:`shared.settings.Settings`), in days."""

    retention_inbox_days: int = Field(
        default=7,
        ge=1,
        description="days an inbox row answers a duplicate delivery (Knative's retries end"
        " within about 17 minutes; a Kafka replay past this re-reads completions, which dedupe"
        " on the run anyway)",
    )
    retention_etag_days: int = Field(
        default=2, ge=1, description="days a GitHub ETag cache entry is kept without a refresh"
    )
    retention_deliveries_days: int = Field(
        default=7,
        ge=3,
        description="days a published GitHub delivery is kept; at least 3: GitHub redelivers"
        " within 3 days ('Redelivering webhooks'), and a redelivery must find its row",
    )
    retention_dead_letters_days: int = Field(
        default=30, ge=1, description="days a replayed dead letter is kept (unreplayed: forever)"
    )
    retention_agent_messages_days: int = Field(
        default=30, ge=1, description="days agent messages outlive their run's end"
    )
    retention_timers_days: int = Field(
        default=7, ge=1, description="days a done timer of a finished run is kept"
    )
    retention_auth_failures_days: int = Field(
        default=1,
        ge=1,
        description="days a window of failed api sign-ins is kept (the windows are minutes)",
    )
    retention_batch: int = Field(
        default=1000, ge=1, le=100_000, description="most rows one tick deletes from one table"
    )
