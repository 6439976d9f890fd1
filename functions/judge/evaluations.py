"""Sealing a decision: one evaluation per run with its sealed record, fingerprint and cost; the
run's next status; the same reply always (DESIGN §4 judge, §5; issue 4).

``codex_judge.evaluations`` is unique on (run_id, stage='final'): the first decision inserts,
a concurrent or duplicate one finds that row, and both answer with the reply rebuilt from it
(key ``<run_id>``, so the reply id is identical too).

Before inserting, a failing verdict is compared with the previous attempt's evaluation of the
same issue: the next prompt always names what changed since then
(:func:`shared.gates.fingerprints.changes_since`), and the same fingerprint on consecutive failing
attempts is a ``repeated_failure`` with the policy's ``repeated_failure_outcome`` (default
needs_human), so no rerun spends attempts on the same wall.

The run moves by compare-and-set (:func:`shared.runs.transition`) from a pre-decision status:
pass → ``merging`` (merge takes it on), otherwise the decision itself; a run that was already
terminal keeps its status and records the decision (:func:`shared.runs.record_decision`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from shared.db import Tx
from shared.gates.fingerprints import Fingerprint, changes_since, fingerprint
from shared.gates.judge import Verdict
from shared.models.events import JUDGE_DECIDED, Reason
from shared.policy.model import Policy
from shared.runs import Run, RunStatus, record_decision, transition
from shared.runs.event_data import judge_decided
from shared.runs.seal import Seal
from shared.runtime.outcomes import Reply

NEXT_STATUS: dict[str, RunStatus] = {
    "pass": "merging",
    "needs_iteration": "needs_iteration",
    "needs_human": "needs_human",
}
#: Statuses a run is in before its decision; a sealed run is never moved again by the judge.
PRE_DECISION: tuple[RunStatus, ...] = (
    "notified",
    "run_complete",
    "waiting_for_ci",
    "waiting_for_review",
    "judging",
)

SQL_INSERT = """
INSERT INTO codex_judge.evaluations (run_id, stage, decision, reasons, next_prompt, judge_kind,
    model, confidence, inputs, policy, policy_hash, repository, issue_number, attempt, head_sha,
    base_sha, diff_hash, diff_source, prompt_template_version, seal, fingerprint,
    fingerprint_parts, prompt_tokens, completion_tokens, model_calls, cost_usd)
VALUES (:run_id, 'final', :decision, CAST(:reasons AS jsonb), :next_prompt, :judge_kind, :model,
    :confidence, CAST(:inputs AS jsonb), CAST(:policy AS jsonb), :policy_hash, :repository,
    :issue_number, :attempt, :head_sha, :base_sha, :diff_hash, :diff_source,
    :prompt_template_version, CAST(:seal AS jsonb), :fingerprint, CAST(:parts AS jsonb),
    :prompt_tokens, :completion_tokens, :model_calls, CAST(:cost_usd AS numeric))
ON CONFLICT (run_id, stage) DO NOTHING
"""
SQL_GET = """
SELECT id, decision, reasons, next_prompt, judge_kind
FROM codex_judge.evaluations WHERE run_id = :run_id AND stage = 'final'
"""
SQL_PREVIOUS = """
SELECT e.attempt, e.decision, e.fingerprint, e.fingerprint_parts
FROM codex_judge.evaluations e
WHERE e.repository = :repository AND e.issue_number = :issue_number AND e.attempt < :attempt
  AND e.stage = 'final'
ORDER BY e.attempt DESC, e.id DESC
LIMIT 1
"""
SQL_TOKENS_TODAY = """
SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS tokens
FROM codex_judge.evaluations
WHERE repository = :repository AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC')
    AT TIME ZONE 'UTC'
"""


def existing(tx: Tx, run: Run) -> Reply | None:
    """The reply of the run's sealed evaluation, or None when it has none yet."""
    row = tx.one(SQL_GET, run_id=run.id)
    return _reply(run, row) if row else None


def tokens_today(tx: Tx, repository: str | None) -> int:
    """Model tokens (prompt + completion) the repository's evaluations spent since 00:00 UTC."""
    if not repository:
        return 0
    row = tx.one(SQL_TOKENS_TODAY, repository=repository)
    return int(row["tokens"]) if row else 0


def _repeated(tx: Tx, run: Run, verdict: Verdict, fp: Fingerprint, policy: Policy) -> Verdict:
    """Name what changed since the previous attempt; escalate a repeated failure."""
    if verdict.decision == "pass" or not (run.repository and run.issue_number):
        return verdict
    previous = tx.one(
        SQL_PREVIOUS,
        repository=run.repository,
        issue_number=run.issue_number,
        attempt=run.attempt or 0,
    )
    if previous is None:
        return verdict
    changes = changes_since(previous["fingerprint_parts"] or [], fp.parts, previous["attempt"])
    prompt = ((verdict.next_prompt or "").strip() + "\n\n" + changes).strip()
    if (
        fp.digest is not None
        and previous["fingerprint"] == fp.digest
        and previous["decision"] == "needs_iteration"
        and verdict.decision == "needs_iteration"
    ):
        reason = Reason(
            code="repeated_failure",
            message=f"attempt {run.attempt} failed exactly like attempt "
            f"{previous['attempt']} (fingerprint {fp.digest[:12]})",
        )
        return replace(
            verdict,
            decision=policy.repeated_failure_outcome,
            reasons=[reason, *verdict.reasons],
            next_prompt=prompt,
        )
    return replace(verdict, next_prompt=prompt)


def seal(
    tx: Tx,
    run: Run,
    verdict: Verdict,
    *,
    inputs: dict[str, Any],
    policy: Policy,
    policy_hash: str,
    record: Seal | None = None,
) -> Reply:
    """Store ``verdict`` as the run's final evaluation (once), move the run, build the reply.

    Args:
        run: the locked run row.
        verdict: the decision; ``extra["usage"]`` (from the LLM judge) is stored as tokens,
            calls and cost.
        inputs: what the judge saw (stored as jsonb for explain).
        policy / policy_hash: the effective policy.
        record: the sealed state (SHAs, checks, threads, diff); None seals only what the run
            row knows.
    """
    notify = run.notify_payload
    log_excerpt = notify.get("log_excerpt")
    fp = fingerprint(
        decision=verdict.decision,
        reason_codes=[r.code for r in verdict.reasons],
        ci_summary=run.ci_summary,
        log_excerpt=log_excerpt if isinstance(log_excerpt, str) else None,
    )
    verdict = _repeated(tx, run, verdict, fp, policy)
    usage = verdict.extra.get("usage") or {}
    prompt_meta = verdict.extra.get("prompt") or {}
    record = (record or Seal(head_sha=run.head_sha)).model_copy(
        update={
            "pr_number": run.pr_number,
            "policy_hash": policy_hash,
            "prompt_template_version": prompt_meta.get(
                "template_version", policy.prompt_template_version
            ),
            "model": verdict.model,
            "judge_kind": verdict.judge_kind,
            "decision": verdict.decision,
            "confidence": verdict.confidence,
            "reason_codes": [r.code for r in verdict.reasons],
        }
    )
    tx.run(
        SQL_INSERT,
        run_id=run.id,
        decision=verdict.decision,
        reasons=json.dumps([r.model_dump() for r in verdict.reasons]),
        next_prompt=verdict.next_prompt,
        judge_kind=verdict.judge_kind,
        model=verdict.model,
        confidence=verdict.confidence,
        inputs=json.dumps(inputs, default=str),
        policy=json.dumps(policy.model_dump(mode="json")),
        policy_hash=policy_hash,
        repository=run.repository,
        issue_number=run.issue_number,
        attempt=run.attempt,
        head_sha=record.head_sha,
        base_sha=record.base_sha,
        diff_hash=record.diff_hash,
        diff_source=record.diff_source,
        prompt_template_version=record.prompt_template_version,
        seal=record.model_dump_json(),
        fingerprint=fp.digest,
        parts=json.dumps(fp.parts),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        model_calls=int(usage.get("calls") or 0),
        cost_usd=str(usage.get("cost_usd")) if usage.get("cost_usd") is not None else None,
    )
    row = tx.one(SQL_GET, run_id=run.id)
    assert row is not None  # inserted above or by the concurrent winner
    reasons = row["reasons"] or []
    transition(
        tx,
        run.id,
        from_statuses=PRE_DECISION,
        to_status=NEXT_STATUS[row["decision"]],
        reason=reasons[0]["code"] if reasons else None,
        decision=row["decision"],
    )
    # A run that arrived already terminal (needs_human: missing metadata) keeps its status but
    # still records the sealed decision, so the runs table shows what the judge decided.
    record_decision(tx, run.id, decision=row["decision"], status=NEXT_STATUS[row["decision"]])
    return _reply(run, row)


def _reply(run: Run, row: dict[str, Any]) -> Reply:
    data = judge_decided(run, row)
    return Reply(JUDGE_DECIDED, data, key=str(run.id), subject=str(run.id), run_id=run.id)
