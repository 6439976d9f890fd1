"""Reading runs and moving them: lookups, the compare-and-set :func:`transition` and
:func:`escalate` (DESIGN §5: a late or duplicate event cannot move a run backwards)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shared.db import Tx

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
SQL_GET_RUN = "SELECT * FROM codex_judge.runs WHERE id = :id"
SQL_GET_RUN_BY_UID = "SELECT * FROM codex_judge.runs WHERE workflow_uid = :uid"
SQL_ACTIVE_FOR_SHA = """
SELECT * FROM codex_judge.runs
WHERE repository = :repository AND head_sha = :head_sha AND active ORDER BY id
"""
# "Active" is the generated column that defines the terminal set once (migration 0001).
SQL_ESCALATE = """
UPDATE codex_judge.runs SET status = 'needs_human', reason = :reason, updated_at = now()
WHERE id = :id AND active
"""
SQL_ACTIVE_FOR_PR = """
SELECT * FROM codex_judge.runs
WHERE repository = :repository AND pr_number = :pr_number AND active ORDER BY id
"""


def get_run(tx: Tx, run_id: int) -> dict[str, Any] | None:
    """The run row with id ``run_id``, or None (a value: callers record "not found")."""
    return tx.one(SQL_GET_RUN, id=run_id)


def get_run_by_uid(tx: Tx, workflow_uid: str) -> dict[str, Any] | None:
    """The run of Argo workflow ``workflow_uid``, or None."""
    return tx.one(SQL_GET_RUN_BY_UID, uid=workflow_uid)


def active_runs_for_sha(tx: Tx, repository: str, head_sha: str) -> list[dict[str, Any]]:
    """Active runs of ``repository`` (``owner/name``) whose head SHA is ``head_sha``, by id."""
    return tx.all(SQL_ACTIVE_FOR_SHA, repository=repository, head_sha=head_sha)


def active_runs_for_pr(tx: Tx, repository: str, pr_number: int) -> list[dict[str, Any]]:
    """Active runs of ``repository`` for pull request ``pr_number``, by id."""
    return tx.all(SQL_ACTIVE_FOR_PR, repository=repository, pr_number=pr_number)


def transition(
    tx: Tx,
    run_id: int,
    *,
    from_statuses: Sequence[str],
    to_status: str,
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


def escalate(tx: Tx, run_id: int, *, reason: str) -> dict[str, Any] | None:
    """Move an active run (any non-terminal status) to ``needs_human`` with ``reason``.

    For escalations outside the judge: an upstream "not found" (``pull_request_not_found`` …),
    a timer that keeps failing (``timer_failed``). Compare-and-set on ``active``, so a run that
    already ended is never moved.

    Returns:
        The run row when it moved, or when it already is ``needs_human`` for this same
        ``reason`` (a repeated escalation answers the same, so its reply can be rebuilt);
        None when the run is unknown or ended otherwise.
    """
    tx.run(SQL_ESCALATE, id=run_id, reason=reason)
    run = get_run(tx, run_id)
    if run is None or run["status"] != "needs_human" or run["reason"] != reason:
        return None
    return run
