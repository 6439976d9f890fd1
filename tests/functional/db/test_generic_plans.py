"""run-complete's statements keep their prepared generic plans (issue 12): Postgres plans a
prepared statement anew on every execution while its custom plans look cheaper than the generic
one, which for a short read costs more than the read itself. After the five custom plans
Postgres always tries, every statement of a new completion must run on its generic plan, for
workflows that ask for an attempt and for those that do not, each kind alone. Not timed: the
plan counts come from ``pg_prepared_statements`` of the one session."""

from __future__ import annotations

from pathlib import Path

from shared import runs
from shared.argo import WorkflowCompletion, parse_completion
from shared.db import Database, Tx

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SQL_SEED_ONE_REPOSITORY = """
INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number, attempt)
SELECT 'seed-' || g, 'completed', 'Succeeded', :repository, 100000 + g, 1
FROM generate_series(1, 1000) g
"""


def _completion(uid: str, attempt: int | None, issue: int) -> WorkflowCompletion:
    base = parse_completion(
        (FIXTURES / "argo/sensor.succeeded.artgc-mixed-s3.params.json").read_bytes()
    )
    assert isinstance(base, WorkflowCompletion)
    meta = base.metadata.model_copy(update={"attempt": attempt, "issue_number": issue})
    return base.model_copy(update={"uid": uid, "metadata": meta})


def test_completion_statements_run_on_generic_plans(db: Database) -> None:
    # As a platform team's database looks: one repository, a run per issue.
    repository = _completion("uid-plans", None, 1).metadata.repository
    with db.transaction() as tx:
        tx.run(SQL_SEED_ONE_REPOSITORY, repository=repository)
        tx.run("ANALYZE codex_judge.runs")
    session = Database(db.url, size=1)  # one connection: prepared statements are per session
    try:
        # Workflows that ask for no attempt, then workflows that do: each kind alone.
        for attempt in (None, 1):
            with session.transaction() as tx:
                before = _plan_counts(tx)
            for n in range(8):
                completion = _completion(f"uid-plans-{n}-{attempt}", attempt, 7000 + n)
                with session.transaction() as tx:
                    runs.record_completion(tx, completion)
            with session.transaction() as tx:
                after = _plan_counts(tx)
            replanned = [
                sql
                for sql, (generic, custom) in after.items()
                if custom - before.get(sql, (0, 0))[1] >= 8
                and generic == before.get(sql, (0, 0))[0]
            ]
            assert len(after) > len(before)  # each kind has a text of its own
            assert replanned == [], f"attempt {attempt}"
    finally:
        session.close()


def _plan_counts(tx: Tx) -> dict[str, tuple[int, int]]:
    """Statement text → (generic plans, custom plans) of this session's prepared statements."""
    rows = tx.all("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
    return {" ".join(r["statement"].split()): (r["generic_plans"], r["custom_plans"]) for r in rows}
