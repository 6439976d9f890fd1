-- 0012: evidence from the run itself (issue 13). Each recorded artifact is downloaded once per
-- run (shared/artifacts/fetch.py; the one writer of these columns is shared/artifacts/records.py)
-- and what became of it is kept beside its location: which store answered, the size and SHA-256
-- of what was kept, whether it was cut at the cap, what unpacking refused, the files it held,
-- the changes manifest and the log excerpts the judge was shown.

ALTER TABLE codex_judge.artifacts
    ADD COLUMN pod_name      text,
    ADD COLUMN fetch_status  text CHECK (fetch_status IN
                                 ('fetched', 'truncated', 'missing', 'unlocated', 'failed')),
    ADD COLUMN fetched_from  text CHECK (fetched_from IN ('s3', 'argo-server')),
    ADD COLUMN fetched_where text,
    ADD COLUMN size_bytes    bigint CHECK (size_bytes >= 0),
    ADD COLUMN sha256        text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN truncated     boolean NOT NULL DEFAULT false,
    ADD COLUMN layers        jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN files         jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN findings      jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN manifest      jsonb,
    ADD COLUMN excerpts      jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN fetch_detail  text,
    ADD COLUMN fetched_at    timestamptz;
