"""The scheduler over real HTTP: a PingSource tick in, one ``timers.due`` per timer owner with
work out to K_SINK, real Postgres (DESIGN §4 "Ticks: only work that is due wakes a function";
issue 8 "Idle costs nothing")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import flask
import httpx
import pytest

from shared.bootstrap import Container
from shared.db import Database
from shared.waits import timers
from tests.functional.ci_status.test_ci_status import insert_run

TICK_SOURCE = "/apis/v1/namespaces/codex-judge/pingsources/tick"
TIMERS_DUE = "io.codexjudge.timers.due.v1"


class Ingress:
    """A Broker ingress stand-in: records every binary-mode CloudEvent (all ``ce-*``
    attributes and the JSON data) while it answers 2xx."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.status = 202
        self.app = flask.Flask("ingress")
        self.app.add_url_rule("/", "ingress", self._ingress, methods=["POST"])

    def _ingress(self) -> flask.Response:
        if self.status // 100 == 2:
            attrs = {
                k.lower()[3:]: v for k, v in flask.request.headers.items() if k.lower()[:3] == "ce-"
            }
            self.events.append({**attrs, "data": flask.request.json})
        return flask.Response(b"", status=self.status)

    def owners(self) -> list[str]:
        return sorted(e["timerowner"] for e in self.events)


@pytest.fixture
def ingress(deps: Container, serve: Any) -> Ingress:
    recorder = Ingress()
    deps.settings.k_sink = serve(recorder.app).url + "/"
    return recorder


@pytest.fixture
def scheduler(function_url: Any) -> str:
    return str(function_url("scheduler"))


def tick(url: str, tick_id: str) -> httpx.Response:
    """One PingSource tick as the Broker delivers it."""
    return httpx.post(
        url,
        content=b'{"tick": "codex-judge"}',
        headers={
            "ce-specversion": "1.0",
            "ce-id": tick_id,
            "ce-source": TICK_SOURCE,
            "ce-type": "dev.knative.sources.ping",
            "content-type": "application/json",
        },
        timeout=30,
    )


def run_in(db: Database, status: str, issue: int) -> int:
    """A run past the gates (no orphaned wait: only its timers can wake anyone)."""
    with db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,"
            " attempt) VALUES (:uid, :status, 'Succeeded', 'octo/repo', :issue, 1) RETURNING id",
            uid=f"uid-{issue}",
            status=status,
            issue=issue,
        )
    assert row is not None
    return int(row["id"])


def timer(db: Database, owner: str, run_id: int, kind: str, due_in_s: float) -> None:
    with db.transaction() as tx:
        timers.schedule(tx, owner=owner, run_id=run_id, kind=kind, delay_s=due_in_s)


def pending(db: Database) -> int:
    with db.transaction() as tx:
        row = tx.one("SELECT count(*) AS n FROM runtime.timers WHERE done_at IS NULL")
    assert row is not None
    return int(row["n"])


def test_due_timers_of_two_owners_wake_each_owner_once(
    scheduler: str, ingress: Ingress, db: Database
) -> None:
    judging, deploying = run_in(db, "judging", 1), run_in(db, "deploying", 2)
    timer(db, "judge", judging, "mergeable_poll", -30)
    timer(db, "deploy", deploying, "poll", -5)
    timer(db, "deploy", deploying, "deadline", -60)
    timer(db, "rerun", judging, "submit", 600)  # not due: rerun stays asleep

    answer = tick(scheduler, "ping-1")

    assert answer.status_code == 202 and answer.content == b""
    assert ingress.owners() == ["deploy", "judge"]
    by_owner = {e["timerowner"]: e for e in ingress.events}
    deploy, judge = by_owner["deploy"], by_owner["judge"]
    assert deploy["type"] == judge["type"] == TIMERS_DUE
    assert (deploy["id"], judge["id"]) == ("ping-1:deploy", "ping-1:judge")
    assert deploy["source"] == "/codex-judge/scheduler" and deploy["subject"] == "deploy"
    assert deploy["data"]["owner"] == "deploy" and deploy["data"]["due"] == 2
    assert judge["data"]["due"] == 1 and judge["data"]["adopt"] is False
    # the deadline, due a minute ago, is the older of deploy's two
    oldest = datetime.fromisoformat(deploy["data"]["oldest_due_at"])
    assert (datetime.now(oldest.tzinfo) - oldest).total_seconds() >= 55
    # the scheduler only reads timers: the owners claim and complete them
    assert pending(db) == 4


def test_a_redelivered_tick_wakes_no_one_twice(
    scheduler: str, ingress: Ingress, db: Database
) -> None:
    timer(db, "judge", run_in(db, "judging", 1), "mergeable_poll", -1)
    assert tick(scheduler, "ping-1").status_code == 202
    assert tick(scheduler, "ping-1").status_code == 202  # at-least-once delivery
    assert [e["id"] for e in ingress.events] == ["ping-1:judge"]
    assert tick(scheduler, "ping-2").status_code == 202  # still due a minute later
    assert [e["id"] for e in ingress.events] == ["ping-1:judge", "ping-2:judge"]


def test_nothing_due_publishes_nothing_and_answers_202(
    scheduler: str, ingress: Ingress, db: Database
) -> None:
    run_id = run_in(db, "deploying", 1)
    timer(db, "deploy", run_id, "poll", 300)
    timer(db, "judge", run_id, "mergeable_poll", -10)
    with db.transaction() as tx:  # handled already
        tx.run("UPDATE runtime.timers SET done_at = now() WHERE owner = 'judge'")

    answer = tick(scheduler, "ping-1")

    assert answer.status_code == 202 and answer.content == b""
    assert ingress.events == []


def test_without_a_sink_binding_the_tick_answers_503_and_its_retry_wakes_the_owners(
    scheduler: str, ingress: Ingress, deps: Container, db: Database
) -> None:
    timer(db, "judge", run_in(db, "judging", 1), "mergeable_poll", -1)
    timer(db, "deploy", run_in(db, "deploying", 2), "poll", -1)
    bound, deps.settings.k_sink = deps.settings.k_sink, None  # the Service lost its binding

    refused = tick(scheduler, "ping-1")

    assert refused.status_code == 503
    assert refused.json()["error"] == "SinkNotBoundError" and refused.json()["field"] == "K_SINK"
    assert ingress.events == [] and pending(db) == 2  # nothing lost: the timers are still due
    deps.settings.k_sink = bound
    assert tick(scheduler, "ping-1").status_code == 202  # Knative retries the same tick
    assert sorted(e["id"] for e in ingress.events) == ["ping-1:deploy", "ping-1:judge"]


def test_a_broker_outage_answers_503_and_the_retry_publishes_the_same_events(
    scheduler: str, ingress: Ingress, db: Database
) -> None:
    timer(db, "judge", run_in(db, "judging", 1), "mergeable_poll", -1)
    ingress.status = 503
    assert tick(scheduler, "ping-1").status_code == 503
    ingress.status = 202
    assert tick(scheduler, "ping-1").status_code == 202
    assert [(e["id"], e["timerowner"]) for e in ingress.events] == [("ping-1:judge", "judge")]


def test_a_run_waiting_on_a_gate_without_timers_wakes_that_gate_to_adopt_it(
    scheduler: str, ingress: Ingress, db: Database
) -> None:
    run_id = insert_run(db)  # waiting for CI (and review), its run.completed lost: no timers

    assert tick(scheduler, "ping-1").status_code == 202
    assert ingress.owners() == ["ci-status", "review-gate"]
    for event in ingress.events:
        assert event["data"]["adopt"] is True and event["data"]["due"] == 0
        assert event["data"]["oldest_due_at"] is None

    # Adopted by ci-status (its timers exist, none due yet): only review-gate is woken now.
    timer(db, "ci-status", run_id, "ci_timeout", 600)
    assert tick(scheduler, "ping-2").status_code == 202
    assert [e["id"] for e in ingress.events[2:]] == ["ping-2:review-gate"]


def test_events_other_than_the_tick_are_ignored(
    scheduler: str, ingress: Ingress, db: Database
) -> None:
    timer(db, "judge", run_in(db, "judging", 1), "mergeable_poll", -1)
    answer = httpx.post(
        scheduler,
        content=b'{"owner": "judge", "due": 1}',
        headers={
            "ce-specversion": "1.0",
            "ce-id": "ping-1:judge",
            "ce-source": "/codex-judge/scheduler",
            "ce-type": TIMERS_DUE,
            "ce-timerowner": "judge",
            "content-type": "application/json",
        },
    )
    assert answer.status_code == 202 and ingress.events == []
