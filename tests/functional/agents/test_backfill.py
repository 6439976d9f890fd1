"""A NATS outage backfilled from the run's own events artifact, without duplicates (issue 15):
what the ingester stored stays as it is, the rest is added once, with origin ``artifact``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared.agents.backfill import backfill
from shared.agents.ingest import Ingester
from shared.agents.publisher import Workflow, codex_messages, publish_all
from shared.db import Database
from shared.runs import get_run
from tests.functional.agents.conftest import CONSUMER, STREAM, run

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "codex-exec"
LINES = (CORPUS / "reasoning_0.147.0.vincent.jsonl").read_text().splitlines()
NAMESPACE, NAME, UID = "argo", "codex-impl-bf", "bf-uid-1"


async def _ingest(url: str, db: Database, body: Callable[[], Awaitable[Any]]) -> None:
    import nats

    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe_bind(durable=CONSUMER, stream=STREAM)
        await body()
        await Ingester(db, sub, batch=50, max_deliver=10).cycle(timeout_s=2)
    finally:
        await nc.close()


def test_what_nats_missed_is_added_from_the_artifact_and_nothing_twice(
    nats_url: str, db: Database
) -> None:
    workflow = Workflow(NAMESPACE, NAME, UID, "codex")
    live = list(codex_messages(workflow, LINES))[:3]  # NATS went down after three events

    async def publish() -> None:
        assert await publish_all(nats_url, live) == []

    run(_ingest(nats_url, db, publish))
    with db.transaction() as tx:
        run_id = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, workflow_name, namespace, status)"
            " VALUES (:uid, :name, :ns, 'notified') RETURNING id",
            uid=UID,
            name=NAME,
            ns=NAMESPACE,
        )["id"]  # type: ignore[index]
        the_run = get_run(tx, run_id)
        assert the_run is not None
        added = backfill(tx, the_run, LINES, "codex")
        again = backfill(tx, the_run, LINES, "codex")
        rows = tx.all("SELECT message_id, origin FROM workflow_comms.agent_messages ORDER BY id")
    assert (added, again) == (len(LINES) - 3, 0)
    assert [r["message_id"] for r in rows] == [f"codex-exec:{i}" for i in range(len(LINES))]
    assert [r["origin"] for r in rows] == ["nats"] * 3 + ["artifact"] * (len(LINES) - 3)


def test_a_workflow_name_that_cannot_be_a_subject_token_backfills_nothing(db: Database) -> None:
    with db.transaction() as tx:
        run_id = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, workflow_name, namespace, status)"
            " VALUES ('u2', 'codex.v2', 'argo', 'notified') RETURNING id"
        )["id"]  # type: ignore[index]
        the_run = get_run(tx, run_id)
        assert the_run is not None
        assert backfill(tx, the_run, LINES, "codex") == 0
