-- 0010: operator actions from the api function and the command line (issue 14): approve a
-- needs_human run, request a rerun, cancel a run, replay a dead letter. One row per request's
-- idempotency key, so a duplicate request is answered from its row and acts once; the actor
-- (the token's name, or the command line's user) is recorded with what was asked and answered.

CREATE TABLE codex_judge.operator_actions (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    action          text NOT NULL CHECK (action IN ('approve', 'rerun', 'cancel', 'replay')),
    run_id          bigint REFERENCES codex_judge.runs (id),
    dead_letter_id  bigint REFERENCES runtime.dead_letters (id),
    actor           text NOT NULL,
    request         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status_code     integer,
    outcome         text,
    response        jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE INDEX operator_actions_run ON codex_judge.operator_actions (run_id, id);
CREATE INDEX operator_actions_dead_letter ON codex_judge.operator_actions (dead_letter_id, id);

-- Keyset pagination of the api's lists (newest first by id) with their filters.
CREATE INDEX IF NOT EXISTS runs_repository_issue_id
    ON codex_judge.runs (repository, issue_number, id DESC);
CREATE INDEX IF NOT EXISTS runs_status_id ON codex_judge.runs (status, id DESC);
