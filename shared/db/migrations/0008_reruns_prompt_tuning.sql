-- 0008: rerun submissions and prompt-tuning proposals (DESIGN §5, issue 5 "rerun", "prompt-tune").
-- Identity lives in unique constraints: one rerun per judged run, one attempt number per
-- (repository, issue), one submission per delivery id (the idempotency key sent to Facteur/Argo).

CREATE TABLE codex_judge.rerun_submissions (
    id              bigserial PRIMARY KEY,
    run_id          bigint NOT NULL UNIQUE REFERENCES codex_judge.runs (id),
    repository      text NOT NULL,
    issue_number    integer NOT NULL,
    attempt         integer NOT NULL CHECK (attempt >= 1),
    delivery_id     text NOT NULL UNIQUE,
    target          text NOT NULL CHECK (target IN ('facteur', 'argo')),
    -- scheduled: waiting for its backoff timer; submitted: the upstream accepted it;
    -- dry_run: recorded, not sent (policy.dry_run); failed: gave up (run → needs_human).
    state           text NOT NULL DEFAULT 'scheduled'
                    CHECK (state IN ('scheduled', 'submitted', 'dry_run', 'failed')),
    submit_attempts integer NOT NULL DEFAULT 0,
    last_error      text,
    next_prompt     text,
    request         jsonb NOT NULL DEFAULT '{}'::jsonb,
    response        jsonb,
    due_at          timestamptz NOT NULL,
    submitted_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rerun_submissions_attempt_unique UNIQUE (repository, issue_number, attempt)
);

-- One row per prompt-tuning proposal; the newest row of a repository starts its cooldown.
CREATE TABLE codex_judge.prompt_tuning (
    id              bigserial PRIMARY KEY,
    repository      text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    -- opened: the PR exists; dry_run: recorded, not opened (policy.dry_run);
    -- failed: GitHub refused a write (the cooldown still applies, so no retry storm).
    state           text NOT NULL CHECK (state IN ('opened', 'dry_run', 'failed')),
    failure_count   integer NOT NULL,
    window_hours    integer NOT NULL,
    reasons         jsonb NOT NULL DEFAULT '{}'::jsonb,
    suggestions     jsonb NOT NULL DEFAULT '[]'::jsonb,
    evidence        jsonb NOT NULL DEFAULT '[]'::jsonb,
    template_path   text NOT NULL,
    evidence_path   text NOT NULL,
    branch          text NOT NULL,
    pr_number       integer,
    pr_url          text,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prompt_tuning_recent ON codex_judge.prompt_tuning (repository, created_at DESC);
