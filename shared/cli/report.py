"""The runs table: what ``codex-judge runs`` and ``make run`` print, read from Postgres.

Paged by keyset: a page is the newest ``limit`` runs with an id below ``before`` (the first
page: the newest), printed oldest first; the next page starts below the page's lowest id. Each
page reads ``limit`` rows of the primary key backwards and their per-run lookups by index
(evaluations by ``(run_id, stage)``, the inbox by ``inbox_run``), whatever the number of runs.
"""

from __future__ import annotations

from typing import Any

from shared.db import Database

SQL_RUNS = """
SELECT r.id, r.workflow_uid, r.repository, r.issue_number, r.attempt, r.head_sha,
       r.pr_number, r.phase,
       r.status, r.decision, r.reason, r.ci_verdict, r.review_verdict,
       (SELECT count(*) FROM codex_judge.evaluations e WHERE e.run_id = r.id) AS evaluations,
       (SELECT e.reasons FROM codex_judge.evaluations e WHERE e.run_id = r.id
         ORDER BY e.id DESC LIMIT 1) AS reasons,
       (SELECT coalesce(json_agg(i.consumer || ':' || i.event_type ORDER BY i.received_at), '[]')
          FROM runtime.inbox i WHERE i.run_id = r.id) AS path
FROM (SELECT * FROM codex_judge.runs
      WHERE id < coalesce(CAST(:before AS bigint), 9223372036854775807)
      ORDER BY id DESC LIMIT :limit) r
ORDER BY r.id
"""
#: Runs per page unless the caller asks otherwise.
PAGE = 50


def list_runs(
    db: Database, *, limit: int = PAGE, before: int | None = None
) -> list[dict[str, Any]]:
    """One page of runs with repository, issue, attempt, SHA, PR, status, decision, reasons, the
    number of evaluations, and its path (``function:event type`` in the order handled).

    Args:
        limit: the most runs returned (the newest ones below ``before``).
        before: only runs with a smaller id (the previous page's lowest id); None: the newest.

    Returns:
        The page, by ascending id.
    """
    with db.transaction() as tx:
        rows = tx.all(SQL_RUNS, limit=limit, before=before)
    for row in rows:
        row["reasons"] = [r.get("code") for r in (row["reasons"] or []) if isinstance(r, dict)]
    return rows


def _short(value: Any, width: int) -> str:
    text = "-" if value in (None, "", []) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _reasons_cell(current: str | None, judged: list[str]) -> str:
    """The run's current reason, then the judge's when they differ (a run moves on after its
    verdict: merged, deploy failed, attempts exhausted)."""
    verdict = ",".join(judged)
    if current and verdict and current not in judged:
        return f"{current} (judge: {verdict})"
    return current or verdict


def render_runs(runs: list[dict[str, Any]]) -> str:
    """A fixed-width table, one run per line, then each run's path through the pipeline."""
    cols = [
        ("run", "id", 4),
        ("repository", "repository", 24),
        ("issue", "issue_number", 5),
        ("att", "attempt", 3),
        ("head sha", "head_sha", 8),
        ("pr", "pr_number", 5),
        ("status", "status", 16),
        ("decision", "decision", 15),
        ("ci", "ci_verdict", 8),
        ("review", "review_verdict", 18),
        ("evals", "evaluations", 5),
        ("reasons", "reasons", 56),
    ]
    lines = ["  ".join(title.ljust(width) for title, _, width in cols)]
    for line in runs:  # report lines (runs joined with counts), not run rows
        cells = []
        for _, key, width in cols:
            value = line.get(key)
            if key == "reasons":
                value = _reasons_cell(line.get("reason"), value or [])
            cells.append(_short(value, width).ljust(width))
        lines.append("  ".join(cells).rstrip())
    lines.append("")
    for line in runs:
        path = " → ".join(step.split(":", 1)[0] for step in line.get("path") or [])
        lines.append(f"run {line['id']}: {path or '-'}")
    return "\n".join(lines)
