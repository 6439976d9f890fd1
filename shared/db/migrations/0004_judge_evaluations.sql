-- 0004: what each evaluation saw and cost (issue 4: sealed decision record, failure
-- fingerprints, model tokens and cost, daily token ceiling per repository).

ALTER TABLE codex_judge.evaluations
    ADD COLUMN IF NOT EXISTS repository              text,
    ADD COLUMN IF NOT EXISTS issue_number            integer,
    ADD COLUMN IF NOT EXISTS attempt                 integer,
    ADD COLUMN IF NOT EXISTS head_sha                text,
    ADD COLUMN IF NOT EXISTS base_sha                text,
    ADD COLUMN IF NOT EXISTS diff_hash               text,
    ADD COLUMN IF NOT EXISTS diff_source             text,
    ADD COLUMN IF NOT EXISTS prompt_template_version text,
    -- the sealed record (shared.runs.seal.Seal): SHAs, check runs, review threads, diff, policy, model
    ADD COLUMN IF NOT EXISTS seal                    jsonb,
    -- SHA-256 (64 hex) of the failure fingerprint's parts; NULL for a pass
    ADD COLUMN IF NOT EXISTS fingerprint             text,
    ADD COLUMN IF NOT EXISTS fingerprint_parts       jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN IF NOT EXISTS prompt_tokens           integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS completion_tokens       integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS model_calls             integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS cost_usd                numeric(12, 6);

-- The previous attempt's evaluation of the same issue (repeated-failure rule).
CREATE INDEX IF NOT EXISTS evaluations_issue_attempt
    ON codex_judge.evaluations (repository, issue_number, attempt);
-- Today's model tokens per repository (daily token ceiling).
CREATE INDEX IF NOT EXISTS evaluations_repository_created
    ON codex_judge.evaluations (repository, created_at);
