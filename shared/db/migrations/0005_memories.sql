-- 0005: memories (DESIGN §5 `memories` schema, issue 4 "Memories"). Ten snapshots per
-- evaluation, embedded into pgvector for recall by namespace and cosine distance.
--
-- The embedding column is `vector` without a fixed dimension: the dimension comes from settings
-- (`embeddings_dimension`), which a migration cannot read. Each row records its `dimension`
-- and a CHECK keeps it honest; `embedder` names what produced the vector (an OpenAI-compatible
-- model, or the offline hashing embedder), and recall only compares rows of one embedder and
-- dimension. An operator who wants an HNSW index fixes the column (`ALTER TABLE … TYPE
-- vector(N)`); the store then checks its settings against that column at start.
--
-- pgvector ships with the embedded Postgres (pgserver) and with CloudNativePG's images. It is not
-- a trusted extension, so it is not created here (the migrating role is no superuser): the
-- database's bootstrap creates it (CNPG: spec.bootstrap.initdb.postInitApplicationSQL; embedded
-- and tests: shared.db.bootstrap_database), and the runner checks it first (REQUIRED_EXTENSIONS
-- in shared/db/migrate.py). The earlier text of this file, with CREATE EXTENSION, is accepted
-- as applied there too (EQUIVALENT_CHECKSUMS).
CREATE SCHEMA IF NOT EXISTS memories;

CREATE TABLE memories.entries (
    id              bigserial PRIMARY KEY,
    namespace       text NOT NULL,            -- codex:<owner/name>:<issue>
    kind            text NOT NULL,            -- run_summary, decision, prompt, …
    summary         text NOT NULL,            -- the human title of the kind ("Run summary")
    content         text NOT NULL,
    tags            text[] NOT NULL DEFAULT '{}',
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    embedding       vector NOT NULL,
    dimension       integer NOT NULL CHECK (dimension > 0),
    embedder        text NOT NULL,            -- e.g. openai-compatible:text-embedding-3-small
    content_sha256  text NOT NULL,
    run_id          bigint NOT NULL REFERENCES codex_judge.runs (id),
    evaluation_id   bigint NOT NULL REFERENCES codex_judge.evaluations (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT entries_dimension_matches CHECK (vector_dims(embedding) = dimension),
    -- A duplicate judge.decided stores nothing new.
    CONSTRAINT entries_one_per_kind UNIQUE (evaluation_id, kind)
);
CREATE INDEX entries_recall ON memories.entries (namespace, embedder, dimension);
CREATE INDEX entries_run ON memories.entries (run_id);
CREATE INDEX entries_tags ON memories.entries USING gin (tags);
