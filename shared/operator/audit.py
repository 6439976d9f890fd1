"""``codex_judge.operator_actions`` (migration 0010): the audit of operator actions and the
idempotency of their requests. This module is the table's only writer.

A request claims its ``Idempotency-Key`` in the transaction that moves the run, so a duplicate
(concurrent or later) finds the row: with a recorded result it is answered with it; without one
(the first request's publish failed or is in flight) it finishes the publish, which the effects
outbox performs at most once (key ``operator:<action id>``).
"""

from __future__ import annotations

import json
from typing import Any

from shared.db import Tx
from shared.operator.model import ActionResult

SQL_CLAIM = """
INSERT INTO codex_judge.operator_actions
    (idempotency_key, action, run_id, dead_letter_id, actor, request)
VALUES (:key, :action, :run_id, :dead_letter_id, :actor, CAST(:request AS jsonb))
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id
"""
SQL_BY_KEY = "SELECT * FROM codex_judge.operator_actions WHERE idempotency_key = :key"
SQL_PLAN = """
UPDATE codex_judge.operator_actions SET request = request || CAST(:plan AS jsonb)
WHERE id = :id AND response IS NULL
"""
SQL_RECORD = """
UPDATE codex_judge.operator_actions
   SET status_code = :status_code, outcome = :outcome, response = CAST(:response AS jsonb),
       completed_at = now()
 WHERE id = :id AND response IS NULL
"""
SQL_FOR_RUN = """
SELECT id, action, actor, outcome, status_code, request->>'comment' AS comment, created_at
FROM codex_judge.operator_actions WHERE run_id = :run_id ORDER BY id
"""


def claim(
    tx: Tx,
    *,
    key: str,
    action: str,
    actor: str,
    request: dict[str, Any],
    run_id: int | None = None,
    dead_letter_id: int | None = None,
) -> tuple[int, dict[str, Any] | None]:
    """Claim ``key``: ``(action id, None)`` when this request is the first, else ``(id, the
    existing row)``."""
    row = tx.one(
        SQL_CLAIM,
        key=key,
        action=action,
        run_id=run_id,
        dead_letter_id=dead_letter_id,
        actor=actor,
        request=json.dumps(request),
    )
    if row is not None:
        return int(row["id"]), None
    existing = tx.one(SQL_BY_KEY, key=key)
    assert existing is not None  # the conflict says it exists; rows are never deleted
    return int(existing["id"]), existing


def plan(tx: Tx, action_id: int, **plan: Any) -> None:
    """Store what is left to do (the event to publish) on the action's row."""
    tx.run(SQL_PLAN, id=action_id, plan=json.dumps(plan))


def record(tx: Tx, result: ActionResult) -> None:
    """Record the result once (a later record of the same action changes nothing)."""
    tx.run(
        SQL_RECORD,
        id=result.action_id,
        status_code=result.status_code,
        outcome=result.outcome,
        response=result.model_dump_json(),
    )


def for_run(tx: Tx, run_id: int) -> list[dict[str, Any]]:
    """The actions taken on run ``run_id``, oldest first."""
    return tx.all(SQL_FOR_RUN, run_id=run_id)
