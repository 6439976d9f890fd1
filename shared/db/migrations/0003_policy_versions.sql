-- Policy packs are versioned (issue 4 "Policy packs"; DESIGN §5, §9).
--
-- codex_judge.policies keeps the CURRENT pack of each repository (the row every reader uses);
-- codex_judge.policy_versions keeps every pack ever set, so an evaluation's policy can be read
-- back later and a bad `policy set` can be undone by setting an older version again.
-- The central pack is the repository '*'.

CREATE TABLE codex_judge.policy_versions (
    repository     text NOT NULL,
    version        integer NOT NULL CHECK (version >= 1),
    document       jsonb NOT NULL,
    source_format  text NOT NULL CHECK (source_format IN ('yaml', 'json')),
    source_text    text NOT NULL,
    digest         text NOT NULL,
    created_by     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repository, version)
);

-- Packs stored before versioning become their repository's recorded version.
INSERT INTO codex_judge.policy_versions (repository, version, document, source_format, source_text, digest)
SELECT repository, version, document, 'json', document::text,
       encode(sha256(convert_to(document::text, 'UTF8')), 'hex')
FROM codex_judge.policies
ON CONFLICT DO NOTHING;
