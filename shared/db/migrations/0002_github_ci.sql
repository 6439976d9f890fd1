-- 0002: what the CI gate and the GitHub client need beyond the foundation (issue 3).

-- A check run's GitHub App id (a required check may be pinned to it) and its check suite (the
-- unit GitHub re-runs); both may be unknown for rows projected before this migration.
ALTER TABLE github.check_state ADD COLUMN IF NOT EXISTS app_id bigint;
ALTER TABLE github.check_state ADD COLUMN IF NOT EXISTS suite_id bigint;

-- Check suites per commit: one row per suite id, newest by the suite's own updated_at.
-- `rerequested_at` is when codex-judge last asked GitHub to re-run the suite and
-- `rerequested_after_id` the largest check run id of the suite then: a re-run creates check runs
-- with larger ids, so a check run at or below it is a retry in flight, not a verdict (ids, not
-- clocks, so GitHub's and Postgres's clocks never have to agree).
CREATE TABLE IF NOT EXISTS github.check_suites (
    repository        text NOT NULL,
    suite_id          bigint NOT NULL,
    head_sha          text NOT NULL,
    app_slug          text NOT NULL DEFAULT '',
    app_id            bigint,
    status            text,
    conclusion        text,
    check_runs_count  integer,
    source_updated_at timestamptz,
    rerequested_at    timestamptz,
    rerequested_after_id bigint,
    observed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, suite_id)
);
CREATE INDEX IF NOT EXISTS check_suites_sha ON github.check_suites (repository, head_sha);

-- Conditional-request cache for GitHub polling reads (GitHub REST "Best practices": a 304
-- answer to If-None-Match costs no rate limit). Keyed by the full request URL (with query)
-- and the credential's fingerprint, so one token never reads another's cached answer.
CREATE TABLE IF NOT EXISTS github.etag_cache (
    url           text NOT NULL,
    credential    text NOT NULL DEFAULT '',
    etag          text,
    last_modified text,
    link          text,
    body          text NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (url, credential)
);
