-- 0017: git data read from GitHub for the anti-gaming inventory (issue 11), cached by object
-- name. When no worktree holds both commits of a change, the judge reads both sides' files over
-- GitHub's git data API: the tree of each commit (path → blob SHA), then each blob it lacks.
-- Both are immutable (a commit SHA names one tree; a blob SHA names its content), so rows are
-- only ever inserted (ON CONFLICT DO NOTHING) and a second evaluation of the same commits or
-- blobs costs no request. The one writer of both tables is shared/github/contents.py.
--
-- github.git_trees: the blob entries of one commit's recursive tree, as {"<path>": "<blob sha>"}
-- (GitHub caps a recursive listing at 100,000 entries / 7 MB; a truncated listing is not kept).
CREATE TABLE github.git_trees (
    repository text NOT NULL,
    commit_sha text NOT NULL CHECK (commit_sha ~ '^[0-9a-f]{40}$'),
    entries    jsonb NOT NULL,
    cached_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, commit_sha)
);

-- github.git_blobs: a blob's text; content is NULL when the blob is not UTF-8 or over the
-- inventory's 1 MB limit (recorded so it is not requested again). Keyed by blob SHA alone: the
-- same SHA is the same bytes in every repository.
CREATE TABLE github.git_blobs (
    blob_sha  text PRIMARY KEY CHECK (blob_sha ~ '^[0-9a-f]{40}$'),
    content   text,
    bytes     integer NOT NULL CHECK (bytes >= 0),
    cached_at timestamptz NOT NULL DEFAULT now()
);
