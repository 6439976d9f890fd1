"""Agent messages per second end to end — published to JetStream, stored by the ingester,
received by an SSE client — against the floor "the same rows inserted straight into Postgres in
the same batches, no NATS, no SSE", measured in the same run (issue 15)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from shared.agents import sse, store
from shared.agents.ingest import Ingester
from shared.agents.messages import to_row
from shared.agents.publisher import Outgoing, publish_all
from shared.db import Database

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 2000
BATCH = 256
UID = "bench-uid"


def _outgoing(run: str) -> list[Outgoing]:
    subject = f"argo.workflow.bench.wf.{UID}-{run}.agent.a1.message"
    return [
        Outgoing(subject, f"m{n}", {"message_id": f"m{n}", "content": f"message {n} " * 8})
        for n in range(MESSAGES)
    ]


def _floor(db: Database) -> float:
    messages = _outgoing("floor")
    rows = [
        to_row(m.subject, json.dumps(m.payload).encode(), {}, n) for n, m in enumerate(messages)
    ]
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        with db.transaction() as tx:
            store.insert_rows(tx, rows[i : i + BATCH], "nats")
    return len(rows) / (time.perf_counter() - started)


def _sse_reader(url: str, uid: str, done: threading.Event, seen: list[int]) -> None:
    with (
        httpx.Client(timeout=60) as client,
        client.stream("GET", url, params={"workflow_uid": uid}) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("id: "):
                seen.append(int(line[4:]))
                if len(seen) == MESSAGES:
                    done.set()
                    return


async def _ingest_until(db: Database, nats_url: str, stored: list[int]) -> None:
    import nats

    nc = await nats.connect(nats_url)
    sub = await nc.jetstream().pull_subscribe_bind(durable="agent-ingest", stream="agent-comms")
    ingester = Ingester(db, sub, batch=BATCH, max_deliver=10)
    while sum(stored) < MESSAGES:
        stored.append((await ingester.cycle(timeout_s=1)).stored)
    await nc.close()


def measure(db_url: str) -> dict[str, Any]:
    """``agent_messages_e2e_per_s``, ``agent_messages_floor_per_s`` and their ratio."""
    from werkzeug.serving import make_server

    from shared.local.mesh.nats import apply_jetstream_objects, start_nats

    db = Database(db_url, size=4)
    floor = _floor(db)
    objects = list(yaml.safe_load_all((ROOT / "knative/base/agents/jetstream.yaml").read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        server = start_nats(Path(tmp))
        try:

            async def setup() -> None:
                import nats

                nc = await nats.connect(server.url)
                await apply_jetstream_objects(nc.jetstream(), objects)
                await nc.close()

            asyncio.run(setup())
            import flask

            app = flask.Flask("bench-sse")
            streams = sse.Streams(db, max_streams=2, max_s=120, keepalive_s=5)
            app.get("/events")(lambda: sse.response(streams, flask.request))
            http = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=http.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{http.server_port}/events"
            messages = _outgoing("e2e")
            done, seen = threading.Event(), []  # type: ignore[var-annotated]
            uid = messages[0].subject.split(".")[4]
            reader = threading.Thread(target=_sse_reader, args=(url, uid, done, seen))
            reader.start()
            started = time.perf_counter()
            failed = asyncio.run(publish_all(server.url, messages))
            stored: list[int] = []
            asyncio.run(_ingest_until(db, server.url, stored))
            done.wait(60)
            elapsed = time.perf_counter() - started
            http.shutdown()
        finally:
            server.stop()
    if failed or len(seen) != MESSAGES or len(set(seen)) != MESSAGES:
        raise SystemExit(f"agent messages: {len(failed)} unpublished, {len(seen)} received")
    e2e = MESSAGES / elapsed
    return {
        "agent_messages": MESSAGES,
        "agent_messages_e2e_per_s": round(e2e, 1),
        "agent_messages_floor_per_s": round(floor, 1),
        "agent_messages_ratio": round(e2e / floor, 3),
    }
