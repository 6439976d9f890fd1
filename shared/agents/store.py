"""The agent-message store: ``workflow_comms.agent_messages`` rows in, pages of rows out
(migration 0011; issue 15).

* **Stored once**: rows carry ``dedupe_key`` (subject + message id, see
  :mod:`shared.agents.messages`), unique, and every insert is ``ON CONFLICT DO NOTHING``.
* **Linked to their run** by workflow uid: a message may arrive before run-complete created the
  run, so the row keeps ``workflow_uid`` and reads of a run select by either.
* **Id order is commit order**: the table's statement trigger serializes writers, so a reader
  resuming after an id never skips a row (the SSE stream's ``Last-Event-ID``).
* **Malformed messages** become dead letters (``runtime.dead_letters``, subscriber
  ``agent-ingest``, source = the subject), kept for the operator with the raw payload.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

from shared.agents.messages import Row
from shared.db import Tx
from shared.runtime import dead_letters

SUBSCRIBER = "agent-ingest"
#: The ``event_type`` of an agent message's dead letter.
EVENT_TYPE = "io.codexjudge.agent.message"
Origin = Literal["nats", "artifact", "notify"]

SQL_INSERT = """
INSERT INTO workflow_comms.agent_messages
    (run_id, subject, message_id, dedupe_key, channel, kind, content, workflow_uid, agent_id,
     origin, sent_at, payload)
SELECT r.id, m.subject, m.message_id, m.dedupe_key, m.channel, m.kind, m.content,
       m.workflow_uid, m.agent_id, :origin, m.sent_at, m.payload
FROM jsonb_to_recordset(CAST(:messages AS jsonb))
     AS m(subject text, message_id text, dedupe_key text, channel text, kind text,
          content text, workflow_uid text, agent_id text, sent_at timestamptz, payload jsonb,
          n bigint)
LEFT JOIN codex_judge.runs r ON r.workflow_uid = m.workflow_uid
ORDER BY m.n
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id
"""

_COLUMNS = """
SELECT m.id, m.channel, m.kind, m.content, m.agent_id, m.workflow_uid,
       COALESCE(m.run_id, r.id) AS run_id, m.subject, m.message_id, m.origin, m.sent_at,
       m.created_at, m.payload
FROM workflow_comms.agent_messages m
LEFT JOIN codex_judge.runs r ON m.run_id IS NULL AND r.workflow_uid = m.workflow_uid
"""
#: One page of a selection after an id, in id order (the SSE history and its live tail).
SQL_PAGE = {
    "run": _COLUMNS
    + """WHERE m.id > :after AND (m.run_id = :key OR m.workflow_uid =
        (SELECT workflow_uid FROM codex_judge.runs WHERE id = CAST(:key AS bigint)))
ORDER BY m.id LIMIT :limit""",
    "workflow_uid": _COLUMNS
    + "WHERE m.id > :after AND m.workflow_uid = :key ORDER BY m.id LIMIT :limit",
    "general": _COLUMNS
    + "WHERE m.id > :after AND m.channel = 'general' ORDER BY m.id LIMIT :limit",
}
Selection = Literal["run", "workflow_uid", "general"]


def insert_rows(tx: Tx, rows: Sequence[Row], origin: Origin) -> int:
    """Insert ``rows`` in order, skipping any whose ``dedupe_key`` is stored; returns how many
    were new."""
    if not rows:
        return 0
    messages = [
        {**asdict(row), "sent_at": row.sent_at.isoformat() if row.sent_at else None} for row in rows
    ]
    return len(tx.all(SQL_INSERT, origin=origin, messages=json.dumps(messages, default=str)))


def dead_letter(
    tx: Tx, subject: str, message_id: str, data: bytes, reason: str, headers: dict[str, str]
) -> None:
    """Keep a malformed message (raw bytes, headers, the reason) for the operator, as a 422 of
    subscriber ``agent-ingest``; a second copy of the same (subject, message id) is merged
    into the same row (:mod:`shared.runtime.dead_letters`, the one writer of the table)."""
    dead_letters.record(
        tx,
        dead_letters.DeadLetter(
            subscriber=SUBSCRIBER,
            source=subject,
            event_id=message_id,
            event_type=EVENT_TYPE,
            attributes={"subject": subject, "headers": headers},
            data=data,
            reason=reason,
            code=422,
            body={"error": reason},
        ),
    )


def page(tx: Tx, selection: Selection, key: str, after: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of a selection (a run id, a workflow uid, or the general channel,
    whose ``key`` is ignored) with ``id > after``, in id order."""
    params: dict[str, Any] = {"after": after, "limit": limit}
    if selection != "general":
        params["key"] = key
    return tx.all(SQL_PAGE[selection], **params)


SQL_CHANNELS = """
SELECT COALESCE(m.run_id, r.id) AS run_id, m.workflow_uid, count(*) AS messages,
       max(m.created_at) AS last_at
FROM workflow_comms.agent_messages m
LEFT JOIN codex_judge.runs r ON m.run_id IS NULL AND r.workflow_uid = m.workflow_uid
WHERE m.channel = 'run'
GROUP BY 1, 2
ORDER BY max(m.id) DESC
LIMIT :limit
"""


def channels(tx: Tx, limit: int = 50) -> list[dict[str, Any]]:
    """The workflows with agent messages, newest first: ``run_id`` (None until the run
    exists), ``workflow_uid``, ``messages`` (count), ``last_at``."""
    return tx.all(SQL_CHANNELS, limit=limit)
