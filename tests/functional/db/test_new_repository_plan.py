"""A repository the planner's statistics have not seen yet (issue 12): the statement that records
a new run reads the issue's runs, not every active run of the repository.

Written with ``active`` in its lookups, the statement let the planner take the partial index
``runs_pr (repository, pr_number) WHERE active`` whenever the statistics had not seen the
repository (new since the last ``ANALYZE``; autovacuum re-analyzes only after a tenth of the
table changed) and filter every active run of it: at 10⁵ stored runs, 384 buffers per event
instead of 31 and ``scale_10e5_vs_10e3`` under 0.9. Counted, not timed: the rows the plan's
scans of ``codex_judge.runs`` read and threw away."""

from __future__ import annotations

from typing import Any

import pytest

from shared.db import Database
from shared.runs.new_run import record_new_run
from tests.functional.db.test_generic_plans import _completion

SQL_SEED_KNOWN = """
INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number, attempt)
SELECT 'known-' || g, 'completed', 'Succeeded', 'known/repo-' || (g % 10), g, 1
FROM generate_series(1, 2000) g
"""
SQL_SEED_NEW = """
INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number, attempt)
SELECT 'new-' || g, 'waiting_for_ci', 'Succeeded', :repository, g, 1
FROM generate_series(1, 1500) g
"""


class _Captured(Exception):
    """Raised by :class:`_Capture` once it holds the statement."""


class _Capture:
    """A transaction that keeps the statement it is asked to run instead of running it."""

    sql = ""
    params: dict[str, Any] = {}

    def one(self, sql: str, **params: Any) -> None:
        self.sql, self.params = sql, params
        raise _Captured


def _rows_filtered_out(plan: dict[str, Any]) -> int:
    """Rows that scans of ``codex_judge.runs`` read and discarded, over the whole plan."""
    own = int(plan.get("Rows Removed by Filter", 0)) if plan.get("Relation Name") == "runs" else 0
    return own + sum(_rows_filtered_out(child) for child in plan.get("Plans", []))


@pytest.mark.parametrize("attempt", [None, 2])
def test_a_new_run_of_a_repository_unknown_to_the_statistics_reads_only_its_issue(
    db: Database, attempt: int | None
) -> None:
    completion = _completion("uid-new-repository", attempt, 99_999)
    repository = completion.metadata.repository
    with db.transaction() as tx:
        tx.run(SQL_SEED_KNOWN)
        tx.run("ANALYZE codex_judge.runs")  # the statistics know the other repositories only
        tx.run(SQL_SEED_NEW, repository=repository)
    capture = _Capture()
    with pytest.raises(_Captured):
        record_new_run(capture, completion, workflow_url=None, finished_at=None)  # type: ignore[arg-type]
    with db.connection() as con:
        con.run("BEGIN")
        try:
            rows = con.run("EXPLAIN (ANALYZE, FORMAT JSON) " + capture.sql, **capture.params)
        finally:
            con.run("ROLLBACK")
    plan = rows[0][0][0]["Plan"]
    assert _rows_filtered_out(plan) == 0
