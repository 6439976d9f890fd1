"""What the Codex wrapper adds to a run: the notify payload (merged with jsonb ``||``,
never overwritten) and the agent messages of its ``codex exec --json`` stream."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shared.argo.metadata import positive_int
from shared.db import Tx
from shared.runs.model import Run

SQL_RECORD_AGENT_MESSAGES = """
INSERT INTO workflow_comms.agent_messages (run_id, seq, kind, content, payload)
SELECT :run_id, m.seq, m.kind, m.content, m.payload
FROM jsonb_to_recordset(CAST(:messages AS jsonb))
     AS m(seq integer, kind text, content text, payload jsonb)
ON CONFLICT (run_id, seq) DO NOTHING
"""
# notify: create the run as `notified`, or merge into it. Identity columns (repository, issue,
# attempt) are left to run-complete, which alone enforces attempts and the one-active rule.
SQL_UPSERT_NOTIFY = """
INSERT INTO codex_judge.runs
    (workflow_uid, status, workflow_name, namespace, head_sha, head_ref, pr_number, pr_url,
     notify_payload)
VALUES (:uid, 'notified', :workflow_name, :namespace, :head_sha, :head_ref, :pr_number,
        :pr_url, CAST(:payload AS jsonb))
ON CONFLICT (workflow_uid) DO UPDATE SET
    notify_payload = codex_judge.runs.notify_payload || EXCLUDED.notify_payload,
    workflow_name = COALESCE(codex_judge.runs.workflow_name, EXCLUDED.workflow_name),
    namespace = COALESCE(codex_judge.runs.namespace, EXCLUDED.namespace),
    head_sha = COALESCE(codex_judge.runs.head_sha, EXCLUDED.head_sha),
    head_ref = COALESCE(codex_judge.runs.head_ref, EXCLUDED.head_ref),
    pr_number = COALESCE(codex_judge.runs.pr_number, EXCLUDED.pr_number),
    pr_url = COALESCE(codex_judge.runs.pr_url, EXCLUDED.pr_url),
    updated_at = now()
RETURNING *
"""


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def record_notify(tx: Tx, workflow_uid: str, payload: Mapping[str, Any]) -> Run:
    """Create the run as ``notified`` or merge ``payload`` into its ``notify_payload``.

    Top-level keys of ``payload`` replace the same keys of the stored payload; other stored
    keys survive. Non-identity columns (workflow name, namespace, head SHA/ref, PR) are filled
    only where the run has none. Returns the run.
    """
    row = tx.one(
        SQL_UPSERT_NOTIFY,
        uid=workflow_uid,
        payload=json.dumps(payload, default=str),
        workflow_name=_text(payload.get("workflow_name")),
        namespace=_text(payload.get("namespace")),
        head_sha=_text(payload.get("head_sha")),
        head_ref=_text(payload.get("head_ref")),
        pr_number=positive_int(payload.get("pr_number")),
        pr_url=_text(payload.get("pr_url")),
    )
    assert row is not None
    return Run.from_row(row)


def describe_agent_event(event: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(kind, content)`` of one Codex ``exec --json`` event (corpus/codex-exec).

    ``item.*`` events are named by their item type (``agent_message``, ``reasoning``,
    ``command_execution``, ``error``, …) with the item's text, message or command and output;
    other events by their type (``thread.started``, ``turn.completed``, ``turn.failed``, …)
    with their error message, if any.
    """
    kind = str(event.get("type") or "unknown")
    item = event.get("item")
    if kind.startswith("item.") and isinstance(item, Mapping):
        parts = [
            item.get("text"),
            item.get("message"),
            item.get("command"),
            item.get("aggregated_output"),
        ]
        text = "\n".join(str(p) for p in parts if p)
        return str(item.get("type") or kind), text or None
    error = event.get("error")
    message = error.get("message") if isinstance(error, Mapping) else event.get("message")
    return kind, str(message) if message else None


def record_agent_messages(tx: Tx, run_id: int, events: Sequence[Any]) -> int:
    """Store Codex exec events as ``workflow_comms.agent_messages`` rows, ``seq`` = position in
    the stream (0-based); a row already stored for ``(run_id, seq)`` is kept. Non-object
    entries are skipped. Returns the number of events offered."""
    messages = []
    for seq, event in enumerate(events):
        if isinstance(event, Mapping):
            kind, content = describe_agent_event(event)
            messages.append({"seq": seq, "kind": kind, "content": content, "payload": event})
    if messages:
        tx.run(SQL_RECORD_AGENT_MESSAGES, run_id=run_id, messages=json.dumps(messages))
    return len(messages)
