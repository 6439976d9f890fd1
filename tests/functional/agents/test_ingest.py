"""The ingester over real NATS JetStream and real Postgres: stored once, acked after the
commit, refused rows redelivered, malformed messages dead-lettered and acked (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared.agents.ingest import NAK_DELAY_S, CycleResult, Ingester
from shared.agents.messages import agent_subject
from shared.agents.publisher import Workflow, codex_messages, publish_all
from shared.db import Database
from tests.functional.agents.conftest import CONSUMER, STREAM, run

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "codex-exec"
WORKFLOW = Workflow("argo", "codex-impl-x1", "8f1c2d3e-uid", "implementer")


def subject(kind: str = "message") -> str:
    return agent_subject("argo", "codex-impl-x1", "8f1c2d3e-uid", "implementer", kind)


async def _session(url: str, db: Database, body: Callable[[Any, Ingester], Awaitable[Any]]) -> Any:
    import nats

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe_bind(durable=CONSUMER, stream=STREAM)
        return await body(js, Ingester(db, sub, batch=50, max_deliver=10))
    finally:
        await nc.close()


def rows(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT id, subject, message_id, kind, content, channel, workflow_uid, agent_id,"
            " origin FROM workflow_comms.agent_messages ORDER BY id"
        )


def consumer_state(url: str) -> Any:
    async def info() -> Any:
        import nats

        nc = await nats.connect(url)
        try:
            return await nc.jetstream().consumer_info(STREAM, CONSUMER)
        finally:
            await nc.close()

    return run(info())


def test_a_codex_exec_stream_is_stored_once_however_often_it_is_published(
    nats_url: str, db: Database
) -> None:
    lines = (CORPUS / "tooluse.vincent.jsonl").read_text().splitlines()
    other = Workflow("argo", "codex-impl-x2", "9a0b-uid", "implementer")
    other_lines = (CORPUS / "success.vincent.jsonl").read_text().splitlines()

    async def body(js: Any, ingester: Ingester) -> list[CycleResult]:
        assert await publish_all(nats_url, codex_messages(WORKFLOW, lines)) == []
        # Another workflow's stream has the same message ids (line numbers): not a duplicate.
        assert await publish_all(nats_url, codex_messages(other, other_lines)) == []
        first = await ingester.cycle(timeout_s=2)
        # The step is retried: the same stream again, and one message re-sent with another
        # Nats-Msg-Id (past JetStream's duplicate window), so the stream holds it twice.
        assert await publish_all(nats_url, codex_messages(WORKFLOW, lines)) == []
        payload = json.dumps({"message_id": "codex-exec:0", "content": "again"}).encode()
        await js.publish(subject("status"), payload, headers={"Nats-Msg-Id": "other"})
        return [first, await ingester.cycle(timeout_s=2)]

    first, second = run(_session(nats_url, db, body))
    stored = [r for r in rows(db) if r["workflow_uid"] == "8f1c2d3e-uid"]
    assert first.stored == len(lines) + len(other_lines) == len(rows(db))
    assert len(stored) == len(lines)
    assert second.fetched == 1 and second.stored == 0  # JetStream deduped the re-run itself
    assert [r["message_id"] for r in stored] == [f"codex-exec:{i}" for i in range(len(lines))]
    assert {r["kind"] for r in stored} == {"status", "tool_call", "tool_result", "message"}
    assert all(r["origin"] == "nats" and r["agent_id"] == "implementer" for r in stored)
    assert consumer_state(nats_url).num_ack_pending == 0


def test_a_message_postgres_refuses_is_redelivered_and_then_stored_without_holding_back_others(
    nats_url: str, db: Database
) -> None:
    # A real refusal by the database, twice (the batch, then the message alone), then accepted.
    with db.transaction() as tx:
        tx.run("CREATE SEQUENCE refusals")
        tx.run(
            "CREATE FUNCTION refuse_twice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.content = 'poison' AND nextval('refusals') <= 2 THEN"
            " RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END; $$"
        )
        tx.run(
            "CREATE TRIGGER refuse_twice BEFORE INSERT ON workflow_comms.agent_messages"
            " FOR EACH ROW EXECUTE FUNCTION refuse_twice()"
        )

    async def body(js: Any, ingester: Ingester) -> list[CycleResult]:
        for n, content in enumerate(["before", "poison", "after"]):
            data = json.dumps({"message_id": f"m{n}", "content": content}).encode()
            await js.publish(subject(), data)
        first = await ingester.cycle(timeout_s=2)
        second = await ingester.cycle(timeout_s=NAK_DELAY_S + 3)
        return [first, second]

    first, second = run(_session(nats_url, db, body))
    assert (first.fetched, first.stored, first.nakked) == (3, 2, 1)
    assert (second.fetched, second.stored, second.nakked) == (1, 1, 0)
    assert [r["content"] for r in rows(db)] == ["before", "after", "poison"]
    assert consumer_state(nats_url).num_ack_pending == 0


def test_malformed_messages_are_dead_lettered_and_acked_never_redelivered(
    nats_url: str, db: Database
) -> None:
    async def body(js: Any, ingester: Ingester) -> list[CycleResult]:
        await js.publish(subject(), b"{not json", headers={"Nats-Msg-Id": "bad-json"})
        await js.publish(subject(), b"[1, 2]", headers={"Nats-Msg-Id": "bad-array"})
        await js.publish(subject(), json.dumps({"content": 5}).encode())
        await js.publish("argo.workflow.argo.only-four", b"{}", headers={"Nats-Msg-Id": "s"})
        await js.publish(subject(), json.dumps({"message_id": "ok", "content": None}).encode())
        first = await ingester.cycle(timeout_s=2)
        return [first, await ingester.cycle(timeout_s=1)]

    first, second = run(_session(nats_url, db, body))
    assert (first.fetched, first.stored, first.dead_lettered) == (5, 1, 4)
    assert second.fetched == 0
    with db.transaction() as tx:
        dead = tx.all(
            "SELECT event_source, event_id, reason, data FROM runtime.dead_letters"
            " WHERE subscriber = 'agent-ingest' ORDER BY id"
        )
    assert [d["event_id"] for d in dead][:2] == ["bad-json", "bad-array"]
    assert bytes(dead[0]["data"]) == b"{not json"
    assert "content" in dead[2]["reason"]
    assert "neither" in dead[3]["reason"] and dead[3]["event_source"].endswith("only-four")
    assert [r["content"] for r in rows(db)] == [None]  # a message without content is kept
    assert consumer_state(nats_url).num_ack_pending == 0


def test_while_the_database_is_down_messages_are_nakked_and_stored_once_it_is_back(
    nats_url: str, db: Database
) -> None:
    down = Database("postgresql://nobody@127.0.0.1:9/none", size=1)

    async def body(js: Any, ingester: Ingester) -> list[CycleResult]:
        await js.publish(subject(), json.dumps({"message_id": "m1", "content": "hi"}).encode())
        ingester.db = down
        first = await ingester.cycle(timeout_s=2)
        ingester.db = db
        return [first, await ingester.cycle(timeout_s=NAK_DELAY_S + 3)]

    first, second = run(_session(nats_url, db, body))
    assert (first.fetched, first.nakked, first.stored) == (1, 1, 0)
    assert (second.fetched, second.stored) == (1, 1)
    assert [r["content"] for r in rows(db)] == ["hi"]


def test_messages_published_before_the_run_exists_are_linked_to_it_by_workflow_uid(
    nats_url: str, db: Database
) -> None:
    async def body(js: Any, ingester: Ingester) -> CycleResult:
        await js.publish(subject(), json.dumps({"messageId": "m1", "text": "early"}).encode())
        return await ingester.cycle(timeout_s=2)

    run(_session(nats_url, db, body))
    from shared.agents import store

    with db.transaction() as tx:
        run_id = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status) VALUES ('8f1c2d3e-uid',"
            " 'notified') RETURNING id"
        )["id"]  # type: ignore[index]
        page = store.page(tx, "run", str(run_id), 0, 10)
    assert [(m["content"], m["run_id"], m["message_id"]) for m in page] == [
        ("early", run_id, "m1")  # camelCase messageId/text accepted
    ]
