-- 0014: cheap per run (issue 12). Indexes for the hot-path lookups that had none, the indexes the
-- retention batches of the scheduler's tick walk (functions/scheduler/retention.py), and the
-- ETag cache made UNLOGGED: a cache write costs no WAL fsync, and a crash or a failover that
-- empties it only costs unconditional reads (shared/adapters/github_etags.py).

ALTER TABLE github.etag_cache SET UNLOGGED;
CREATE INDEX etag_cache_stored ON github.etag_cache (stored_at);

-- ci-status's retry ledger looks effects up by key prefix (functions/ci_status/retries.py): a
-- range over the key in byte order ("C"), which a generic plan of a prepared statement can use.
CREATE INDEX effects_key_prefix ON runtime.effects ((idempotency_key COLLATE "C"));
CREATE INDEX effects_run ON runtime.effects (run_id, claimed_at) WHERE run_id IS NOT NULL;

-- A check suite's runs (ci-status's retry and rerequest marks look them up by suite).
CREATE INDEX check_state_suite ON github.check_state (repository, suite_id)
    WHERE suite_id IS NOT NULL;

-- Retention: each batch reads the oldest rows past its horizon.
CREATE INDEX inbox_received ON runtime.inbox (received_at);
CREATE INDEX events_published ON github.events (received_at) WHERE published_at IS NOT NULL;
CREATE INDEX dead_letters_replayed ON runtime.dead_letters (replayed_at)
    WHERE replayed_at IS NOT NULL;
CREATE INDEX agent_messages_created ON workflow_comms.agent_messages (created_at);
CREATE INDEX timers_done ON runtime.timers (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX runs_terminal_updated ON codex_judge.runs (updated_at) WHERE NOT active;
