"""Sealing a decision: one evaluation per run, the run's terminal status, the same reply always
(DESIGN §4 judge, §5).

``codex_judge.evaluations`` is unique on (run_id, stage='final'): the first decision inserts,
a concurrent or duplicate one finds that row, and both answer with the reply rebuilt from it
(key ``<run_id>``, so the reply id is identical too). The run moves to its terminal status by
compare-and-set from any active status: pass → ``completed``, else the decision itself.
"""

from __future__ import annotations

import json
from typing import Any

from shared.db import Tx
from shared.gates.judge import Verdict
from shared.models.events import JUDGE_DECIDED, JudgeDecided, Reason
from shared.policy import Policy
from shared.runtime import Reply

_TERMINAL = {
    "pass": "completed",
    "needs_iteration": "needs_iteration",
    "needs_human": "needs_human",
}

SQL_INSERT = """
INSERT INTO codex_judge.evaluations (run_id, stage, decision, reasons, next_prompt, judge_kind,
    model, confidence, inputs, policy, policy_hash)
VALUES (:run_id, 'final', :decision, CAST(:reasons AS jsonb), :next_prompt, :judge_kind, :model,
    :confidence, CAST(:inputs AS jsonb), CAST(:policy AS jsonb), :policy_hash)
ON CONFLICT (run_id, stage) DO NOTHING
"""
SQL_GET = """
SELECT id, decision, reasons, next_prompt, judge_kind
FROM codex_judge.evaluations WHERE run_id = :run_id AND stage = 'final'
"""
SQL_TRANSITION = """
UPDATE codex_judge.runs
SET status = :status, decision = :decision, reason = :reason, updated_at = now()
WHERE id = :id AND (active OR status = :status)
"""


def existing(tx: Tx, run: dict[str, Any]) -> Reply | None:
    """The reply of the run's sealed evaluation, or None when it has none yet."""
    row = tx.one(SQL_GET, run_id=run["id"])
    return _reply(run, row) if row else None


def seal(
    tx: Tx,
    run: dict[str, Any],
    verdict: Verdict,
    *,
    inputs: dict[str, Any],
    policy: Policy,
    policy_hash: str,
) -> Reply:
    """Store ``verdict`` as the run's final evaluation (once), move the run, build the reply."""
    tx.run(
        SQL_INSERT,
        run_id=run["id"],
        decision=verdict.decision,
        reasons=json.dumps([r.model_dump() for r in verdict.reasons]),
        next_prompt=verdict.next_prompt,
        judge_kind=verdict.judge_kind,
        model=verdict.model,
        confidence=verdict.confidence,
        inputs=json.dumps(inputs, default=str),
        policy=json.dumps(policy.model_dump(mode="json")),
        policy_hash=policy_hash,
    )
    row = tx.one(SQL_GET, run_id=run["id"])
    assert row is not None  # inserted above or by the concurrent winner
    reasons = row["reasons"] or []
    tx.run(
        SQL_TRANSITION,
        id=run["id"],
        status=_TERMINAL[row["decision"]],
        decision=row["decision"],
        reason=reasons[0]["code"] if reasons else None,
    )
    return _reply(run, row)


def _reply(run: dict[str, Any], row: dict[str, Any]) -> Reply:
    data = JudgeDecided(
        run_id=run["id"],
        evaluation_id=row["id"],
        decision=row["decision"],
        reasons=[Reason.model_validate(r) for r in row["reasons"] or []],
        next_prompt=row["next_prompt"],
        judge_kind=row["judge_kind"],
        repository=run["repository"],
        issue_number=run["issue_number"],
        attempt=run["attempt"],
        pr_number=run["pr_number"],
        head_sha=run["head_sha"],
    )
    return Reply(JUDGE_DECIDED, data, key=str(run["id"]), subject=str(run["id"]), run_id=run["id"])
