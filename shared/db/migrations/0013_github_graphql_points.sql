-- 0013: the GitHub GraphQL rate-limit points each run spent (issue 12). Every decision point
-- reads GitHub once with GraphQL (ci-status, review-gate, the judge, merge's drift check); the
-- `rateLimit { cost }` of each answer is added to the run's total by the function that read it
-- (shared/runs/costs.py, the one writer of this column), so a run's GitHub cost is one lookup.

ALTER TABLE codex_judge.runs
    ADD COLUMN github_graphql_points integer NOT NULL DEFAULT 0
        CHECK (github_graphql_points >= 0);
