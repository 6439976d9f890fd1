"""Retention: what each growing table keeps, deleted by the scheduler's tick in bounded batches
(issue 12 "no table that grows without bound").

=============================  =============================================================
table                          deleted when
=============================  =============================================================
``runtime.inbox``              received more than ``retention_inbox_days`` ago (past the
                               redelivery horizon: Knative's retries give up within minutes,
                               a Kafka replay is re-read from the run-complete offsets), and
                               its run, if any, is not active
``github.etag_cache``          not refreshed for ``retention_etag_days`` (an entry read
                               since is rewritten on every 200; a 304 keeps its stored_at, so
                               a hot entry may go and costs one unconditional read)
``github.events``              published more than ``retention_deliveries_days`` ago:
                               GitHub redelivers a delivery only within 3 days ("Redelivering
                               webhooks"), so a duplicate delivery finds its row until then
``runtime.dead_letters``       replayed more than ``retention_dead_letters_days`` ago
                               (never an unreplayed one: a person still has to look at it)
``workflow_comms.agent_``      of a run that ended (not active) more than
``messages``                   ``retention_agent_messages_days`` ago, or never linked to a
                               run and older than that
``runtime.timers``             done more than ``retention_timers_days`` ago and its run
                               not active (a pending timer is never touched, nor an active
                               run's done deadline: it must not be armed again)
``runtime.auth_failures``      the failed sign-in counters of windows that started more than
                               ``retention_auth_failures_days`` ago (a window lasts
                               minutes: ``api_auth_window_s``)
=============================  =============================================================

Never deleted: runs, completions, evaluations, effects and write actions (an effect's row is
what stops a side effect from happening twice), policies. Each batch deletes at most
``retention_batch`` rows of one table, oldest first, in a transaction of its own, rows
another transaction holds skipped (``FOR UPDATE SKIP LOCKED``), so a tick never waits on the
event path and the event path waits on no tick for long. The batches walk the indexes of
migration 0014. The horizons are settings (:class:`shared.settings.retention.RetentionSettings`,
``CODEX_JUDGE_RETENTION_*``); the defaults keep a week of inbox rows, GitHub deliveries past
GitHub's 3-day redelivery window, a month of replayed dead letters and of finished runs' agent
messages.
"""

from __future__ import annotations

from shared.db import Database
from shared.runtime import dead_letters
from shared.settings.retention import RetentionSettings

# Each DELETE picks its batch by ctid (the row's physical address, stable within the statement)
# from an index-ordered, locked sub-select: one statement per table and tick.
SQL_INBOX = """
DELETE FROM runtime.inbox WHERE ctid = ANY(ARRAY(
    SELECT i.ctid FROM runtime.inbox i
    WHERE i.received_at < now() - make_interval(days => :days)
      AND (i.run_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM codex_judge.runs r WHERE r.id = i.run_id AND r.active))
    ORDER BY i.received_at
    LIMIT :batch
    FOR UPDATE OF i SKIP LOCKED))
"""
SQL_ETAGS = """
DELETE FROM github.etag_cache WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM github.etag_cache
    WHERE stored_at < now() - make_interval(days => :days)
    ORDER BY stored_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED))
"""
SQL_DELIVERIES = """
DELETE FROM github.events WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM github.events
    WHERE published_at IS NOT NULL AND received_at < now() - make_interval(days => :days)
      AND published_at < now() - make_interval(days => :days)
    ORDER BY received_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED))
"""
SQL_DEAD_LETTERS = dead_letters.SQL_PURGE_REPLAYED  # its one writer owns the statement
SQL_AGENT_MESSAGES = """
DELETE FROM workflow_comms.agent_messages WHERE ctid = ANY(ARRAY(
    SELECT m.ctid FROM workflow_comms.agent_messages m
    WHERE m.created_at < now() - make_interval(days => :days)
      AND CASE  -- correlated scalar sub-selects: one index probe per message, never a join
          WHEN m.run_id IS NOT NULL THEN (
              SELECT NOT r.active AND r.updated_at < now() - make_interval(days => :days)
              FROM codex_judge.runs r WHERE r.id = m.run_id)
          WHEN m.workflow_uid IS NOT NULL THEN (
              SELECT r.active OR r.updated_at >= now() - make_interval(days => :days)
              FROM codex_judge.runs r WHERE r.workflow_uid = m.workflow_uid) IS NOT TRUE
          ELSE true
      END
    ORDER BY m.created_at
    LIMIT :batch
    FOR UPDATE OF m SKIP LOCKED))
"""
SQL_TIMERS = """
DELETE FROM runtime.timers WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM runtime.timers
    WHERE done_at IS NOT NULL AND done_at < now() - make_interval(days => :days)
      AND (run_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM codex_judge.runs r WHERE r.id = run_id AND r.active))
    ORDER BY done_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED))
"""
SQL_AUTH_FAILURES = """
DELETE FROM runtime.auth_failures WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM runtime.auth_failures
    WHERE window_start < now() - make_interval(days => :days)
    ORDER BY window_start
    LIMIT :batch
    FOR UPDATE SKIP LOCKED))
"""


def statements(horizons: RetentionSettings) -> list[tuple[str, str, int]]:
    """``(table, DELETE statement, days)`` for each table, in the order a tick runs them."""
    return [
        ("runtime.inbox", SQL_INBOX, horizons.retention_inbox_days),
        ("github.etag_cache", SQL_ETAGS, horizons.retention_etag_days),
        ("github.events", SQL_DELIVERIES, horizons.retention_deliveries_days),
        ("runtime.dead_letters", SQL_DEAD_LETTERS, horizons.retention_dead_letters_days),
        (
            "workflow_comms.agent_messages",
            SQL_AGENT_MESSAGES,
            horizons.retention_agent_messages_days,
        ),
        ("runtime.timers", SQL_TIMERS, horizons.retention_timers_days),
        ("runtime.auth_failures", SQL_AUTH_FAILURES, horizons.retention_auth_failures_days),
    ]


def run_batches(db: Database, horizons: RetentionSettings) -> dict[str, int]:
    """Delete one batch from each table, each in a transaction of its own.

    Returns:
        Rows deleted, by table (``{"runtime.inbox": 1000, …}``; 0 when nothing was due).

    Raises:
        TransientError: the database failed; batches already committed stay deleted.
    """
    deleted: dict[str, int] = {}
    for table, sql, days in statements(horizons):
        with db.transaction() as tx:
            deleted[table] = max(0, tx.run(sql, days=days, batch=horizons.retention_batch))
    return deleted
