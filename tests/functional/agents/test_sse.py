"""The agent-messages SSE stream over real HTTP and real Postgres: exact resume by row id, live
rows woken by NOTIFY, bounds and clear 4xx (issue 15)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import flask
import httpx
import pytest

from shared.agents import sse, store
from shared.agents.messages import to_row
from shared.db import Database
from shared.errors import CodexJudgeError

UID = "wf-uid-1"
SUBJECT = f"argo.workflow.argo.codex-impl.{UID}.agent.implementer.message"


def insert(db: Database, first: int, count: int) -> None:
    """``count`` messages in one transaction: they share ``created_at`` (one ``now()``)."""
    rows = [
        to_row(SUBJECT, json.dumps({"message_id": f"m{n}", "content": f"#{n}"}).encode(), {}, n)
        for n in range(first, first + count)
    ]
    with db.transaction() as tx:
        store.insert_rows(tx, rows, "nats")


@pytest.fixture
def streams(db: Database) -> sse.Streams:
    return sse.Streams(db, max_streams=2, max_s=3.0, keepalive_s=0.5)


@pytest.fixture
def url(streams: sse.Streams, serve: Any) -> str:
    app = flask.Flask("sse-test")

    @app.get("/api/agents/events")
    def events() -> Any:
        try:
            return sse.response(streams, flask.request)
        except CodexJudgeError as exc:
            return flask.jsonify(exc.body()), exc.status

    return str(serve(app).url) + "/api/agents/events"


def read_events(
    response: httpx.Response, stop_after: int | None = None
) -> Iterator[dict[str, Any]]:
    """Parse the SSE body into ``{"id", "data"}`` dicts (and ``{"comment"}``)."""
    event: dict[str, Any] = {}
    seen = 0
    for line in response.iter_lines():
        if line.startswith(":"):
            yield {"comment": line}
        elif line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line == "" and "id" in event:
            yield event
            event = {}
            seen += 1
            if stop_after is not None and seen >= stop_after:
                return


def test_resuming_after_each_disconnect_loses_and_repeats_nothing_among_equal_timestamps(
    db: Database, url: str
) -> None:
    insert(db, 0, 600)
    insert(db, 600, 400)
    with db.transaction() as tx:
        stamps = tx.one("SELECT count(DISTINCT created_at) AS n FROM workflow_comms.agent_messages")
    assert stamps == {"n": 2}  # 1,000 messages, two timestamps
    got: list[int] = []
    last: str | None = None
    with httpx.Client(timeout=10) as client:
        for chunk in (1, 333, 499, 500, 10_000):  # disconnect mid-page and at page ends
            headers = {"Last-Event-ID": last} if last else {}
            with client.stream("GET", url, params={"workflow_uid": UID}, headers=headers) as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                for event in read_events(r, stop_after=chunk):
                    if "comment" in event:
                        break  # caught up: only keep-alives follow
                    got.append(event["id"])
                    last = str(event["id"])
            if len(got) == 1000:
                break
    with db.transaction() as tx:
        ids = [r["id"] for r in tx.all("SELECT id FROM workflow_comms.agent_messages ORDER BY id")]
    assert got == ids


def test_a_row_stored_while_a_client_waits_arrives_live(db: Database, url: str) -> None:
    insert(db, 0, 1)
    got: list[dict[str, Any]] = []
    comments = 0
    waiting = threading.Event()  # the client has had a keep-alive: it is waiting for rows

    def later() -> None:
        # stored once the stream is waiting, not after a fixed sleep: on a loaded machine the
        # first poll could outlast the sleep and find the row without any wait
        waiting.wait(timeout=10)
        insert(db, 1, 1)

    threading.Thread(target=later, daemon=True).start()
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", url, params={"workflow_uid": UID}) as r,
    ):
        for event in read_events(r):
            if "comment" in event:
                comments += 1
                waiting.set()
                continue
            got.append(event["data"])
            if len(got) == 2:
                break
    assert [m["content"] for m in got] == ["#0", "#1"]
    assert got[1]["agent_id"] == "implementer" and got[1]["kind"] == "message"
    assert comments >= 1  # it waited (keep-alive every 0.5 s) rather than closing


def test_each_response_is_bounded_in_time_and_in_number_of_open_streams(
    db: Database, url: str
) -> None:
    with httpx.Client(timeout=10) as client:
        started = time.monotonic()
        with client.stream("GET", url, params={"channel": "general"}) as r:
            body = r.read().decode()
        assert 2.5 < time.monotonic() - started < 8  # max_s = 3 s, then the client resumes
        assert body.startswith(f"retry: {sse.RETRY_MS}\n\n")
        with (
            client.stream("GET", url, params={"channel": "general"}) as a,
            client.stream("GET", url, params={"channel": "general"}) as b,
        ):
            assert a.status_code == b.status_code == 200
            third = client.get(url, params={"channel": "general"})
            assert third.status_code == 503 and third.headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    ("params", "headers", "field"),
    [
        ({}, {}, "run"),
        ({"run": "1", "channel": "general"}, {}, "run"),
        ({"run": "-3"}, {}, "run"),
        ({"channel": "team"}, {}, "channel"),
        ({"workflow_uid": "x" * 129}, {}, "workflow_uid"),
        ({"workflow_uid": "u"}, {"Last-Event-ID": "12a"}, "Last-Event-ID"),
        ({"workflow_uid": "u", "last_event_id": "-1"}, {}, "last_event_id"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    url: str, params: dict[str, str], headers: dict[str, str], field: str
) -> None:
    response = httpx.get(url, params=params, headers=headers, timeout=10)
    assert response.status_code == 400
    assert response.json()["field"] == field
