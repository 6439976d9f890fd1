-- 0011: agent messages arrive live from NATS JetStream (issue 15), not only from the Codex exec
-- stream carried by notify. A message is identified by its subject and its publisher's message
-- id (`dedupe_key`), so a redelivered publish, a duplicate publish and the same message
-- backfilled from the run's events are stored once. Messages on the general channel belong to
-- no run; a live message may arrive before run-complete has created its run, so it is keyed by
-- the workflow uid and linked to the run by that uid when it is read.

ALTER TABLE workflow_comms.agent_messages
    ALTER COLUMN run_id DROP NOT NULL,
    ALTER COLUMN seq DROP NOT NULL,
    ADD COLUMN subject      text,
    ADD COLUMN message_id   text,
    ADD COLUMN dedupe_key   text UNIQUE,
    ADD COLUMN channel      text NOT NULL DEFAULT 'run' CHECK (channel IN ('run', 'general')),
    ADD COLUMN workflow_uid text,
    ADD COLUMN agent_id     text,
    ADD COLUMN origin       text NOT NULL DEFAULT 'notify'
                            CHECK (origin IN ('notify', 'nats', 'artifact')),
    ADD COLUMN sent_at      timestamptz;

CREATE INDEX agent_messages_workflow_uid ON workflow_comms.agent_messages (workflow_uid, id);
CREATE INDEX agent_messages_run ON workflow_comms.agent_messages (run_id, id);
CREATE INDEX agent_messages_channel ON workflow_comms.agent_messages (channel, id);

-- Every insert, whoever writes it, wakes the SSE streams waiting on the channel: one
-- notification per statement carrying the statement's highest id (readers query `id > last`).
CREATE FUNCTION workflow_comms.notify_agent_messages() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('agent_messages', (SELECT max(id)::text FROM new_rows));
    RETURN NULL;
END;
$$;

CREATE TRIGGER agent_messages_notify
    AFTER INSERT ON workflow_comms.agent_messages
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_comms.notify_agent_messages();

-- Writers take turns (a transaction-scoped advisory lock taken before any id is drawn), so ids
-- become visible in id order: a reader resuming "after id N" never skips a row that a slower,
-- concurrent transaction commits later with a smaller id.
CREATE FUNCTION workflow_comms.serialize_agent_message_writers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('workflow_comms.agent_messages'));
    RETURN NULL;
END;
$$;

CREATE TRIGGER agent_messages_serialize_writers
    BEFORE INSERT ON workflow_comms.agent_messages
    FOR EACH STATEMENT EXECUTE FUNCTION workflow_comms.serialize_agent_message_writers();
