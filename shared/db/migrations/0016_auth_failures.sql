-- 0016: failed sign-ins counted per client address and window (issue 14: the UI's login form and
-- bearer tokens; functions/api/throttle.py). The api's processes are stateless and scale out, so
-- the counters live in Postgres, one row per (scope, client, window). UNLOGGED: a crash or a
-- failover that empties it only forgets recent failures. The scheduler's retention batches delete
-- windows older than a day (functions/scheduler/retention.py). No token is ever stored.

CREATE UNLOGGED TABLE runtime.auth_failures (
    scope         text NOT NULL CHECK (scope IN ('login', 'bearer')),
    client        text NOT NULL CHECK (length(client) <= 100),
    window_start  timestamptz NOT NULL,
    failures      integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    PRIMARY KEY (scope, client, window_start)
);
CREATE INDEX auth_failures_window ON runtime.auth_failures (window_start);
