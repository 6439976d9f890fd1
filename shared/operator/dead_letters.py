"""Reading dead letters (``runtime.dead_letters``, written by the dead-letter function): one
page, newest first, with Knative's error extensions. The api and ``codex-judge dead-letters
list`` share it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.db import Tx
from shared.operator.pages import MAX_PAGE, decode_cursor, encode_cursor

SQL_DEAD_LETTERS = """
SELECT id, subscriber, event_source, event_id, event_type, reason, error_code, error_body,
       attributes->>'knativeerrordest' AS error_dest, received_at, replayed_at
FROM runtime.dead_letters
WHERE (CAST(:subscriber AS text) IS NULL OR subscriber = :subscriber)
  AND (CAST(:replayed AS boolean) IS NULL OR (replayed_at IS NOT NULL) = :replayed)
  AND (CAST(:before AS bigint) IS NULL OR id < :before)
ORDER BY id DESC
LIMIT :limit
"""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeadLetterQuery(_Model):
    """``GET /api/dead-letters``: newest first, keyset pagination."""

    subscriber: str | None = Field(default=None, max_length=100, description="failing Service")
    replayed: bool | None = Field(default=None, description="only (not) replayed ones")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=100)


class DeadLetter(_Model):
    """A failed delivery with Knative's error extensions."""

    id: int
    subscriber: str
    event_source: str
    event_id: str
    event_type: str | None
    reason: str | None
    error_code: int | None = Field(description="knativeerrorcode: the subscriber's last status")
    error_dest: str | None = Field(description="knativeerrordest: the subscriber's URL")
    error_body: dict[str, Any] | None = Field(description="knativeerrordata, decoded")
    received_at: datetime
    replayed_at: datetime | None


class DeadLetterPage(_Model):
    items: list[DeadLetter]
    next_cursor: str | None


def list_dead_letters(tx: Tx, query: DeadLetterQuery) -> DeadLetterPage:
    """One page of dead letters, newest first.

    Raises:
        CursorError: ``query.cursor`` is not one this list gave out.
    """
    rows = tx.all(
        SQL_DEAD_LETTERS,
        subscriber=query.subscriber,
        replayed=query.replayed,
        before=decode_cursor("dead-letters", query.cursor),
        limit=query.limit + 1,
    )
    items = [DeadLetter.model_validate(r) for r in rows[: query.limit]]
    more = len(rows) > query.limit
    cursor = encode_cursor("dead-letters", items[-1].id) if more else None
    return DeadLetterPage(items=items, next_cursor=cursor)
