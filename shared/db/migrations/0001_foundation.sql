-- 0001: the foundation schemas (DESIGN §5). Identity and dedupe live in unique constraints;
-- status changes are compare-and-set in the adapter's SQL.

CREATE SCHEMA IF NOT EXISTS codex_judge;
CREATE SCHEMA IF NOT EXISTS github;
CREATE SCHEMA IF NOT EXISTS runtime;
CREATE SCHEMA IF NOT EXISTS workflow_comms;

-- Runs ----------------------------------------------------------------------------------------
-- The terminal set is defined here once, in the generated column `active`; code asks `active`.
CREATE TABLE codex_judge.runs (
    id              bigserial PRIMARY KEY,
    workflow_uid    text NOT NULL UNIQUE,
    workflow_name   text,
    namespace       text,
    repository      text,
    issue_number    integer,
    attempt         integer,
    attempt_source  text,
    head_sha        text,
    head_ref        text,
    base_ref        text,
    pr_number       integer,
    pr_url          text,
    issue_url       text,
    workflow_url    text,
    phase           text,
    finished_at     timestamptz,
    status          text NOT NULL CHECK (status IN (
                        'notified', 'run_complete', 'waiting_for_ci', 'waiting_for_review',
                        'judging', 'merging', 'deploying', 'verifying',
                        'completed', 'needs_iteration', 'needs_human', 'superseded')),
    active          boolean GENERATED ALWAYS AS (
                        status NOT IN ('completed', 'needs_iteration', 'needs_human', 'superseded')
                    ) STORED,
    reason          text,
    decision        text,
    ci_verdict      text,
    ci_summary      jsonb,
    ci_concluded_at timestamptz,
    review_verdict  text,
    review_summary  jsonb,
    review_concluded_at timestamptz,
    notify_payload  jsonb NOT NULL DEFAULT '{}'::jsonb,
    labels          jsonb NOT NULL DEFAULT '{}'::jsonb,
    parameters      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT runs_attempt_unique UNIQUE (repository, issue_number, attempt)
);
-- One active run per (repository, issue).
CREATE UNIQUE INDEX runs_one_active_per_issue
    ON codex_judge.runs (repository, issue_number) WHERE active AND issue_number IS NOT NULL;
CREATE INDEX runs_head_sha ON codex_judge.runs (repository, head_sha) WHERE active;
CREATE INDEX runs_pr ON codex_judge.runs (repository, pr_number) WHERE active;

-- Argo sends several UPDATE events per finished workflow: (uid, phase, finishedAt) is one fact.
CREATE TABLE codex_judge.run_completions (
    workflow_uid  text NOT NULL,
    phase         text NOT NULL,
    finished_at   text NOT NULL,
    run_id        bigint NOT NULL REFERENCES codex_judge.runs (id),
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_uid, phase, finished_at)
);

CREATE TABLE codex_judge.artifacts (
    id          bigserial PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES codex_judge.runs (id),
    name        text NOT NULL,
    node_id     text,
    bucket      text,
    key         text,
    endpoint    text,
    url         text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, name)
);

CREATE TABLE codex_judge.evaluations (
    id            bigserial PRIMARY KEY,
    run_id        bigint NOT NULL REFERENCES codex_judge.runs (id),
    stage         text NOT NULL CHECK (stage IN ('final')),
    decision      text NOT NULL CHECK (decision IN ('pass', 'needs_iteration', 'needs_human')),
    reasons       jsonb NOT NULL DEFAULT '[]'::jsonb,
    next_prompt   text,
    judge_kind    text NOT NULL,
    model         text,
    confidence    double precision,
    inputs        jsonb NOT NULL DEFAULT '{}'::jsonb,
    policy        jsonb NOT NULL DEFAULT '{}'::jsonb,
    policy_hash   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, stage)
);

CREATE TABLE codex_judge.policies (
    repository  text PRIMARY KEY,
    version     integer NOT NULL DEFAULT 1,
    document    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Agent messages (backfilled from the Codex exec stream when present) ---------------------------
CREATE TABLE workflow_comms.agent_messages (
    id          bigserial PRIMARY KEY,
    run_id      bigint NOT NULL REFERENCES codex_judge.runs (id),
    seq         integer NOT NULL,
    kind        text NOT NULL,
    content     text,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, seq)
);

-- GitHub projections --------------------------------------------------------------------------
CREATE TABLE github.events (
    delivery_id   text PRIMARY KEY,
    event         text NOT NULL,
    action        text,
    repository    text,
    payload       jsonb NOT NULL,
    headers       jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at   timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);

CREATE TABLE github.pr_state (
    repository       text NOT NULL,
    pr_number        integer NOT NULL,
    head_sha         text,
    head_ref         text,
    base_ref         text,
    base_sha         text,
    state            text,
    merged           boolean,
    draft            boolean,
    mergeable        boolean,
    mergeable_state  text,
    title            text,
    html_url         text,
    source_updated_at timestamptz,
    observed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, pr_number)
);

-- One row per (commit, kind, check name, app): the newest by the check's own timestamp wins.
CREATE TABLE github.check_state (
    repository        text NOT NULL,
    head_sha          text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('check_run', 'status')),
    name              text NOT NULL,
    app_slug          text NOT NULL DEFAULT '',
    external_id       text,
    status            text NOT NULL,
    conclusion        text,
    details_url       text,
    source_updated_at timestamptz,
    observed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, head_sha, kind, name, app_slug)
);

-- Each reviewer's latest review per PR.
CREATE TABLE github.review_state (
    repository    text NOT NULL,
    pr_number     integer NOT NULL,
    reviewer      text NOT NULL,
    review_id     text NOT NULL,
    state         text NOT NULL,
    commit_id     text,
    body          text,
    submitted_at  timestamptz,
    observed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, pr_number, reviewer)
);

CREATE TABLE github.review_threads (
    repository    text NOT NULL,
    pr_number     integer NOT NULL,
    thread_id     text NOT NULL,
    is_resolved   boolean NOT NULL,
    is_outdated   boolean NOT NULL DEFAULT false,
    path          text,
    line          integer,
    author        text,
    body          text,
    url           text,
    observed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, pr_number, thread_id)
);

CREATE TABLE github.comments (
    repository    text NOT NULL,
    comment_id    text NOT NULL,
    pr_number     integer,
    author        text,
    body          text,
    created_at    timestamptz,
    PRIMARY KEY (repository, comment_id)
);

-- Runtime -------------------------------------------------------------------------------------
-- Each consumer's processed events; written in the same transaction as the effects, holding
-- the reply so a duplicate delivery is answered the same way.
CREATE TABLE runtime.inbox (
    consumer      text NOT NULL,
    source        text NOT NULL,
    event_id      text NOT NULL,
    event_type    text NOT NULL,
    run_id        bigint,
    reply         jsonb,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, source, event_id)
);
CREATE INDEX inbox_run ON runtime.inbox (run_id, received_at) WHERE run_id IS NOT NULL;

CREATE TABLE runtime.timers (
    id          bigserial PRIMARY KEY,
    owner       text NOT NULL,
    run_id      bigint REFERENCES codex_judge.runs (id),
    kind        text NOT NULL,
    due_at      timestamptz NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
    done_at     timestamptz,
    UNIQUE (owner, run_id, kind)
);
CREATE INDEX timers_due ON runtime.timers (owner, due_at) WHERE done_at IS NULL;

-- Effects outbox: claim the key, call out, record the response. A retry finds the row.
CREATE TABLE runtime.effects (
    idempotency_key text PRIMARY KEY,
    kind            text NOT NULL,
    run_id          bigint REFERENCES codex_judge.runs (id),
    state           text NOT NULL CHECK (state IN ('claimed', 'done', 'failed')),
    request         jsonb NOT NULL DEFAULT '{}'::jsonb,
    response        jsonb,
    attempts        integer NOT NULL DEFAULT 0,
    error           text,
    claimed_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);

CREATE TABLE runtime.dead_letters (
    id            bigserial PRIMARY KEY,
    subscriber    text NOT NULL,
    event_source  text NOT NULL,
    event_id      text NOT NULL,
    event_type    text,
    attributes    jsonb NOT NULL DEFAULT '{}'::jsonb,
    data          bytea,
    reason        text,
    error_code    integer,
    error_body    jsonb,
    received_at   timestamptz NOT NULL DEFAULT now(),
    replayed_at   timestamptz,
    UNIQUE (subscriber, event_source, event_id)
);
