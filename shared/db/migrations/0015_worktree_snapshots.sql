-- 0015: worktree snapshots (issue 13; DESIGN §5 and §12 item 6). The judge clones the run's
-- repository (partial clone, blob:none) into ephemeral storage, adds a detached worktree at the
-- head SHA and records the merge-base name-status and patch here. The one writer of both
-- tables is shared/github/worktrees.py.
--
-- github.pr_files: one row per changed path of a PR at one head SHA, per source. The source is
-- part of the key, so a file list from another source (GitHub's diff, its file list) is a row
-- of its own and never replaces the authoritative 'worktree' row; worktree rows are only ever
-- inserted (ON CONFLICT DO NOTHING), so a repeated snapshot of the same head SHA changes
-- nothing. A force-pushed head is a new head SHA: its rows sit beside the old head's.

CREATE TABLE github.pr_files (
    repository     text NOT NULL,
    pr_number      integer NOT NULL CHECK (pr_number > 0),
    head_sha       text NOT NULL CHECK (head_sha ~ '^[0-9a-f]{40}$'),
    path           text NOT NULL,
    source         text NOT NULL CHECK (source IN ('worktree', 'github')),
    status         text NOT NULL CHECK (status IN
                       ('added', 'removed', 'modified', 'renamed', 'copied', 'changed')),
    previous_path  text,
    similarity     integer CHECK (similarity BETWEEN 0 AND 100),
    merge_base_sha text,
    additions      integer NOT NULL DEFAULT 0 CHECK (additions >= 0),
    deletions      integer NOT NULL DEFAULT 0 CHECK (deletions >= 0),
    patch          text,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, pr_number, head_sha, path, source)
);

-- github.pr_worktrees: where a PR's snapshot was allocated and what it was cut from. One row
-- per (repository, PR, head SHA): refreshing the same head only moves refreshed_at; a failed
-- clone is recorded (status 'failed', detail) so the fallback to GitHub is explained.
CREATE TABLE github.pr_worktrees (
    repository     text NOT NULL,
    pr_number      integer NOT NULL CHECK (pr_number > 0),
    head_sha       text NOT NULL CHECK (head_sha ~ '^[0-9a-f]{40}$'),
    name           text NOT NULL,
    path           text NOT NULL,
    base_ref       text NOT NULL,
    base_sha       text,
    merge_base_sha text,
    status         text NOT NULL CHECK (status IN ('ready', 'failed')),
    detail         text,
    file_count     integer NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    diff_sha256    text CHECK (diff_sha256 ~ '^[0-9a-f]{64}$'),
    unmerged_paths jsonb NOT NULL DEFAULT '[]'::jsonb,
    clone_seconds  double precision,
    refreshed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, pr_number, head_sha)
);

CREATE INDEX pr_worktrees_latest ON github.pr_worktrees (repository, pr_number, refreshed_at DESC);
