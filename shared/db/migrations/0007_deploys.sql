-- 0007: deploys (issue 5, DESIGN §4 "deploy"). One row per run whose merge is being deployed.
-- The state moves forward only, compare-and-set in functions/deploy/store.py:
--   deploying (Argo CD sync / deploy workflow running) → verifying (verification workflow
--   submitted) → verified | failed.
CREATE TABLE codex_judge.deploys (
    run_id              bigint PRIMARY KEY REFERENCES codex_judge.runs (id),
    repository          text NOT NULL,
    pr_number           integer NOT NULL,
    merge_commit_sha    text NOT NULL,
    mode                text NOT NULL CHECK (mode IN ('argocd', 'argo_workflow')),
    state               text NOT NULL CHECK (state IN ('deploying', 'verifying', 'verified',
                                                       'failed')),
    application         text,
    namespace           text,
    -- the Git SHA the cluster reported running (Argo CD status.sync.revision, or the deploy
    -- workflow's merge SHA); verification is only submitted when it equals the merge commit
    revision            text,
    deploy_workflow     text,
    verify_workflow     text,
    failure_reason      text,
    failing_tests       jsonb NOT NULL DEFAULT '[]'::jsonb,
    next_prompt         text,
    remedy              jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    deployed_at         timestamptz,
    verify_submitted_at timestamptz,
    concluded_at        timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deploys_open ON codex_judge.deploys (state) WHERE state IN ('deploying', 'verifying');
