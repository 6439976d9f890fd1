-- 0006: the audit of every GitHub write (DESIGN §5 `github.write_actions`, issue 5 "Effects
-- outbox"). One row per idempotency key (the same key as runtime.effects): what was (or would
-- have been) sent, what GitHub answered and what that meant. `mode` says whether the call went
-- out (live), was only recorded (dry_run), or was refused because the repository is not on
-- the write allow-list (refused).
CREATE TABLE github.write_actions (
    id               bigserial PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    run_id           bigint REFERENCES codex_judge.runs (id),
    repository       text NOT NULL,
    action           text NOT NULL,
    mode             text NOT NULL CHECK (mode IN ('live', 'dry_run', 'refused')),
    request          jsonb NOT NULL DEFAULT '{}'::jsonb,
    response         jsonb,
    http_status      integer,
    outcome          text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX write_actions_run ON github.write_actions (run_id, created_at);
CREATE INDEX write_actions_repository ON github.write_actions (repository, action, created_at);
