-- 0009: a timer whose handler fails is recorded and retried behind the others (issue 10 "one
-- bad timer never blocks the others"; DESIGN §6). `attempts` counts the handler's failures in a
-- row (the backoff's exponent; a success that moves or re-arms the timer resets it);
-- `last_error` and `last_failed_at` say what went wrong and when, for the operator.

ALTER TABLE runtime.timers
    ADD COLUMN attempts       integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN last_error     text,
    ADD COLUMN last_failed_at timestamptz;
