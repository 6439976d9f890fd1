"""Moving runs: every change of a run's status, verdicts or decision, each a compare-and-set in
SQL (DESIGN §5: ``UPDATE … WHERE status = ANY(…)`` / ``… IS NULL``, so a late or duplicate
event cannot move a run backwards nor overwrite a verdict).

* :func:`transition` — status (and reason) from a given set, with optional verdict columns;
* :func:`conclude_ci` — the CI verdict, once; ``waiting_for_ci`` moves on to
  ``waiting_for_review``;
* :func:`conclude_review` — the review verdict, once; the status is left to the judge;
* :func:`record_decision` — the judge's sealed decision on a run already in its end status;
* :func:`escalate` — to ``needs_human`` with a reason, from any active status (or a given set).

"Active" is the table's generated column: the complement of
:data:`shared.runs.model.TERMINAL_STATUSES`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shared.db import Tx
from shared.runs.model import Run, RunStatus
from shared.runs.store import get_run

#: Columns :func:`transition` may set besides status/reason; jsonb ones are cast.
_TRANSITION_COLUMNS = frozenset(
    {
        "decision",
        "ci_verdict",
        "ci_concluded_at",
        "review_verdict",
        "review_concluded_at",
        "head_sha",
        "pr_number",
        "pr_url",
        "ci_summary",
        "review_summary",
    }
)
_JSONB_COLUMNS = frozenset({"ci_summary", "review_summary"})

SQL_ESCALATE = """
UPDATE codex_judge.runs SET status = 'needs_human', reason = :reason, updated_at = now()
WHERE id = :id AND active
"""
SQL_CONCLUDE_CI = """
UPDATE codex_judge.runs
SET ci_verdict = :verdict, ci_summary = CAST(:summary AS jsonb), ci_concluded_at = now(),
    status = CASE WHEN status = 'waiting_for_ci' THEN 'waiting_for_review' ELSE status END,
    updated_at = now()
WHERE id = :id AND ci_verdict IS NULL AND active
RETURNING id
"""
SQL_CONCLUDE_CI_WAITING = """
UPDATE codex_judge.runs
SET ci_verdict = :verdict, ci_summary = CAST(:summary AS jsonb), ci_concluded_at = now(),
    status = 'waiting_for_review', updated_at = now()
WHERE id = :id AND ci_verdict IS NULL AND active AND status = 'waiting_for_ci'
RETURNING id
"""
SQL_CONCLUDE_REVIEW = """
UPDATE codex_judge.runs
SET review_verdict = :verdict, review_summary = CAST(:summary AS jsonb),
    review_concluded_at = now(), updated_at = now()
WHERE id = :id AND review_verdict IS NULL AND active
RETURNING id
"""
SQL_RECORD_DECISION = """
UPDATE codex_judge.runs SET decision = :decision
WHERE id = :id AND decision IS NULL AND status = :status
RETURNING id
"""


def transition(
    tx: Tx,
    run_id: int,
    *,
    from_statuses: Sequence[RunStatus],
    to_status: RunStatus,
    reason: str | None = None,
    **columns: Any,
) -> bool:
    """Compare-and-set a run's status (DESIGN §5).

    ``UPDATE … SET status = :to, reason = :reason, <columns> WHERE id = :id AND status =
    ANY(:from)``. ``reason`` is written as given (None clears it).

    Args:
        columns: extra columns to set in the same statement; one of ``decision``,
            ``ci_verdict``, ``ci_concluded_at``, ``review_verdict``, ``review_concluded_at``,
            ``head_sha``, ``pr_number``, ``pr_url``, ``ci_summary``, ``review_summary``
            (the last two are jsonb: pass a dict/list).

    Returns:
        True when the run was in one of ``from_statuses`` and moved; False otherwise.

    Raises:
        ValueError: an unknown column name (a programming error, not input).
    """
    unknown = set(columns) - _TRANSITION_COLUMNS
    if unknown:
        raise ValueError(f"transition cannot set column(s) {sorted(unknown)}")
    # Column names come from the fixed allow-list above; every value is a bound parameter.
    sets = ["status = :to_status", "reason = :reason", "updated_at = now()"]
    params: dict[str, Any] = {}
    for name, value in sorted(columns.items()):
        if name in _JSONB_COLUMNS:
            sets.append(f"{name} = CAST(:c_{name} AS jsonb)")
            params[f"c_{name}"] = json.dumps(value)
        else:
            sets.append(f"{name} = :c_{name}")
            params[f"c_{name}"] = value
    sql = (
        f"UPDATE codex_judge.runs SET {', '.join(sets)} "  # names are allow-listed
        "WHERE id = :id AND status = ANY(:from_statuses) RETURNING id"
    )
    row = tx.one(
        sql,
        id=run_id,
        to_status=to_status,
        reason=reason,
        from_statuses=list(from_statuses),
        **params,
    )
    return row is not None


def conclude_ci(
    tx: Tx,
    run_id: int,
    *,
    verdict: str,
    summary: Mapping[str, Any],
    only_waiting: bool = False,
) -> bool:
    """Write the CI verdict of an active run once (``ci_verdict IS NULL``).

    The run moves ``waiting_for_ci`` → ``waiting_for_review``; a run in another active status
    keeps it (the review gate may have moved first).

    Args:
        verdict: ``success``, ``failure`` or ``stale_base``.
        summary: the stored ``ci_summary`` (a :meth:`shared.gates.ci.CiResult.summary`).
        only_waiting: write only when the run is in ``waiting_for_ci`` (a timed-out wait).

    Returns:
        True when this call wrote the verdict.
    """
    sql = SQL_CONCLUDE_CI_WAITING if only_waiting else SQL_CONCLUDE_CI
    return tx.one(sql, id=run_id, verdict=verdict, summary=json.dumps(summary)) is not None


def conclude_review(tx: Tx, run_id: int, *, verdict: str, summary: Mapping[str, Any]) -> bool:
    """Write the review verdict of an active run once (``review_verdict IS NULL``); the status
    is unchanged. Returns True when this call wrote it."""
    row = tx.one(SQL_CONCLUDE_REVIEW, id=run_id, verdict=verdict, summary=json.dumps(summary))
    return row is not None


def record_decision(tx: Tx, run_id: int, *, decision: str, status: RunStatus) -> bool:
    """Record the judge's ``decision`` on a run that is in ``status`` and has none yet (a run
    that arrived already terminal keeps its status but shows what the judge sealed)."""
    row = tx.one(SQL_RECORD_DECISION, id=run_id, decision=decision, status=status)
    return row is not None


def escalate(
    tx: Tx, run_id: int, *, reason: str, from_statuses: Sequence[RunStatus] | None = None
) -> Run | None:
    """Move run ``run_id`` to ``needs_human`` with ``reason``, compare-and-set on
    ``from_statuses`` (None: any active status).

    For escalations outside the judge: an upstream "not found" (``pull_request_not_found`` …),
    a timer that keeps failing (``timer_failed``), a merge GitHub refused, a rerun that cannot
    be submitted. A run that already ended otherwise is never moved.

    Returns:
        The run when it moved, or when it already is ``needs_human`` for this same ``reason``
        (a repeated escalation answers the same, so its reply can be rebuilt); None when the
        run is unknown or ended otherwise.
    """
    if from_statuses is None:
        tx.run(SQL_ESCALATE, id=run_id, reason=reason)
    else:
        transition(tx, run_id, from_statuses=from_statuses, to_status="needs_human", reason=reason)
    run = get_run(tx, run_id)
    return run if run is not None and run.escalated_for(reason) else None
