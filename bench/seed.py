"""Seed a database with many runs and the rows that hang off them, a batch of runs per statement
(issue 12: per-event cost and plans at 10⁵ stored runs). Shared by ``make bench`` and the plan
test."""

from __future__ import annotations

from shared.db import Database

# 1 % of the runs still waiting for CI; every run with inbox rows, an effect, a done timer, a
# check run, an agent message, a GitHub delivery and an ETag entry.
SQL_SEED = """
WITH r AS (
    INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,
        attempt, head_sha, pr_number, updated_at)
    SELECT CAST(:prefix AS text) || g,
        CASE WHEN g % 100 = 0 THEN 'waiting_for_ci' ELSE 'completed' END,
        'Succeeded', 'seed/repo-' || (g % 1000), g, 1, lpad(to_hex(g), 40, '0'), g,
        now() - interval '1 day'
    FROM generate_series(CAST(:first AS integer),
                         CAST(:first AS integer) + CAST(:n AS integer) - 1) g
    RETURNING id, workflow_uid, repository, head_sha
), i AS (
    INSERT INTO runtime.inbox (consumer, source, event_id, event_type, run_id, reply)
    SELECT c, 'seed', r.workflow_uid, 't', r.id, '{}' FROM r,
        unnest(ARRAY['run-complete', 'ci-status', 'judge']) c
), e AS (
    INSERT INTO runtime.effects (idempotency_key, kind, run_id, state, request)
    SELECT 'rerequest:' || r.repository || '@' || r.head_sha || ':1:1', 'ci_rerequest', r.id,
        'done', '{"after_id": "1"}' FROM r
), t AS (
    INSERT INTO runtime.timers (owner, run_id, kind, due_at, done_at)
    SELECT 'ci-status', r.id, 'ci_timeout', now(), now() FROM r
), c AS (
    INSERT INTO github.check_state (repository, head_sha, kind, name, status, suite_id,
        external_id)
    SELECT r.repository, r.head_sha, 'check_run', 'build', 'completed', r.id, r.id::text FROM r
), m AS (
    INSERT INTO workflow_comms.agent_messages (run_id, seq, kind, workflow_uid)
    SELECT r.id, 1, 'note', r.workflow_uid FROM r
), d AS (
    INSERT INTO github.events (delivery_id, event, payload, published_at)
    SELECT r.workflow_uid, 'push', '{}', now() FROM r
), k AS (
    INSERT INTO github.etag_cache (url, credential, body)
    SELECT 'https://api.github.com/' || r.workflow_uid, '', '{}' FROM r
)
SELECT count(*) AS n FROM r
"""


#: Runs per seeding statement: each stays well inside the pool's 30 s socket timeout on a
#: loaded machine (10⁵ in one statement did not, at a load of 10 on 2 cores).
BATCH = 20_000


def seed_runs(db: Database, n: int, *, first: int = 1, prefix: str = "seed-") -> int:
    """Insert ``n`` runs (issue numbers ``first``…) with their rows, :data:`BATCH` runs per
    statement, then ``ANALYZE``.

    Returns:
        The number of runs inserted.
    """
    inserted = 0
    for start in range(first, first + n, BATCH):
        size = min(BATCH, first + n - start)
        with db.transaction() as tx:
            row = tx.one(SQL_SEED, n=size, first=start, prefix=prefix)
        inserted += int(row["n"]) if row else 0
    with db.connection() as con:
        con.run("ANALYZE")
    return inserted
