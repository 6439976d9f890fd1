"""Durable waits over real HTTP: ci-status and review-gate waiting on timers in Postgres, the
scheduler's ``timers.due`` waking them, conclusions published to a K_SINK, the fake GitHub over
HTTP and recorded check-run shapes (issue 3 "Durable waits and reconcile")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app
from tests.functional.ci_status.test_ci_status import REPO, SHA, check_run, insert_run, post_event
from tests.support.cloudevents import post_timers_due

PR = 166
BOT = "chatgpt-codex-connector[bot]"
CI_TIMEOUT_S = 120


class Sink:
    """A Broker ingress stand-in: records every binary-mode CloudEvent POSTed to it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.status = 202
        self.app = flask.Flask("sink")
        self.app.add_url_rule("/", "ingress", self._ingress, methods=["POST"])

    def _ingress(self) -> flask.Response:
        if self.status // 100 == 2:
            headers = {k.lower(): v for k, v in flask.request.headers.items()}
            self.events.append(
                {"type": headers.get("ce-type"), "id": headers.get("ce-id"), **flask.request.json}
            )
        return flask.Response(b"", status=self.status)

    def of_type(self, suffix: str) -> list[dict[str, Any]]:
        return [e for e in self.events if str(e["type"]).endswith(suffix)]


@pytest.fixture
def github(deps: Container) -> Iterator[ServedFake]:
    fake = serve_fake(create_app())
    deps.settings.github_api_url = fake.url
    deps.settings.ai_reviewer_logins = [BOT]
    yield fake
    fake.stop()


@pytest.fixture
def sink(deps: Container, serve: Any) -> Sink:
    recorder = Sink()
    deps.settings.k_sink = serve(recorder.app).url + "/"
    return recorder


def seed(fake: ServedFake, state: dict[str, Any]) -> None:
    httpx.put(f"{fake.url}/_fake/state", json=state).raise_for_status()


def set_policy(db: Database, document: dict[str, Any]) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r,"
            " CAST(:d AS jsonb))",
            r=REPO,
            d=json.dumps(document),
        )


def run_completed(url: str, run_id: int, event_id: str = "rc-1") -> httpx.Response:
    data = {
        "run_id": run_id,
        "workflow_uid": "uid",
        "phase": "Succeeded",
        "status": "waiting_for_ci",
        "repository": REPO,
        "head_sha": SHA,
        "pr_number": PR,
    }
    return post_event(url, "io.codexjudge.run.completed.v1", data, event_id)


def tick(url: str, n: int = 1, owner: str = "ci-status") -> httpx.Response:
    """The scheduler's ``timers.due`` waking ``owner`` on tick ``n``, as the Broker delivers it
    (a fresh id per tick)."""
    return post_timers_due(url, owner, f"tick-{n}")


def make_due(db: Database, owner: str, kind: str) -> None:
    """Move a timer's due time to now: the clock passing, without sleeping in a test."""
    with db.transaction() as tx:
        tx.run(
            "UPDATE runtime.timers SET due_at = now() WHERE owner = :o AND kind = :k"
            " AND done_at IS NULL",
            o=owner,
            k=kind,
        )


def timers_of(db: Database, run_id: int) -> dict[tuple[str, str], bool]:
    """``{(owner, kind): pending}`` for one run."""
    with db.transaction() as tx:
        rows = tx.all(
            "SELECT owner, kind, done_at IS NULL AS pending FROM runtime.timers WHERE run_id = :id",
            id=run_id,
        )
    return {(r["owner"], r["kind"]): bool(r["pending"]) for r in rows}


def run_row(db: Database, run_id: int) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one(
            "SELECT status, ci_verdict, ci_summary, review_verdict, review_summary"
            " FROM codex_judge.runs WHERE id = :id",
            id=run_id,
        )
    assert row is not None
    return row


def test_a_required_check_that_never_reports_times_out_naming_it(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    set_policy(db, {"required_checks": ["build", "e2e"], "ci_timeout_s": CI_TIMEOUT_S})
    seed(github, {"check_runs": {f"{REPO}@{SHA}": [check_run(11, "build", "success")]}})
    run_id = insert_run(db)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202
    assert timers_of(db, run_id) == {
        ("ci-status", "ci_timeout"): True,
        ("ci-status", "reconcile"): True,
    }
    assert tick(url, 1).status_code == 202 and sink.events == []  # nothing due yet
    make_due(db, "ci-status", "ci_timeout")
    assert tick(url, 2).status_code == 202
    [event] = sink.of_type("ci.concluded.v1")
    assert event["verdict"] == "failure" and event["reason"] == "ci_timeout"
    assert event["failing"] == ["e2e"]
    row = run_row(db, run_id)
    assert row["status"] == "waiting_for_review" and row["ci_verdict"] == "failure"
    assert row["ci_summary"]["reason"] == "ci_timeout" and "e2e" in row["ci_summary"]["next_prompt"]
    assert not any(timers_of(db, run_id).values())
    # A duplicate run.completed answers with the same event the tick published.
    again = run_completed(url, run_id, "rc-2")
    assert again.status_code == 200 and again.headers["ce-id"] == event["id"]


def test_a_lost_check_run_webhook_is_recovered_by_reconcile(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    set_policy(db, {"required_checks": ["build"], "reconcile_interval_s": 30})
    seed(github, {"check_runs": {f"{REPO}@{SHA}": [check_run(11, "build", None)]}})
    run_id = insert_run(db)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202
    # The check concludes on GitHub, but its webhook never arrives.
    seed(github, {"check_runs": {f"{REPO}@{SHA}": [check_run(11, "build", "success")]}})
    make_due(db, "ci-status", "reconcile")
    assert tick(url).status_code == 202
    [event] = sink.of_type("ci.concluded.v1")
    assert event["verdict"] == "success" and event["run_id"] == run_id
    assert run_row(db, run_id)["status"] == "waiting_for_review"


def test_reconcile_of_a_run_still_waiting_fires_again_one_interval_later(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    set_policy(db, {"required_checks": ["build"], "reconcile_interval_s": 30})
    run_id = insert_run(db)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202
    make_due(db, "ci-status", "reconcile")
    assert tick(url).status_code == 202
    with db.transaction() as tx:
        row = tx.one(
            "SELECT done_at IS NULL AS pending, due_at > now() + interval '20 seconds' AS later"
            " FROM runtime.timers WHERE run_id = :id AND kind = 'reconcile'",
            id=run_id,
        )
    assert row == {"pending": True, "later": True} and sink.events == []


def test_a_waiting_run_without_timers_is_adopted_and_reconciled(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    seed(github, {"check_runs": {f"{REPO}@{SHA}": [check_run(11, "build", "success")]}})
    run_id = insert_run(db)  # its run.completed never reached ci-status
    assert tick(function_url("ci_status")).status_code == 202
    [event] = sink.of_type("ci.concluded.v1")
    assert event["verdict"] == "success" and event["run_id"] == run_id


def test_a_broker_outage_keeps_the_conclusion_due_until_published(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    set_policy(db, {"required_checks": ["e2e"], "ci_timeout_s": CI_TIMEOUT_S})
    run_id = insert_run(db)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202
    make_due(db, "ci-status", "ci_timeout")
    sink.status = 503
    assert tick(url, 1).status_code == 503
    assert run_row(db, run_id)["ci_verdict"] == "failure"  # committed before publishing
    assert timers_of(db, run_id)[("ci-status", "ci_timeout")] is True
    sink.status = 202
    assert tick(url, 2).status_code == 202
    [event] = sink.of_type("ci.concluded.v1")
    assert event["reason"] == "ci_timeout"
    assert timers_of(db, run_id)[("ci-status", "ci_timeout")] is False


def test_a_tick_without_a_sink_binding_keeps_its_timer_due_and_answers_503(
    function_url: Any, github: ServedFake, sink: Sink, deps: Container, db: Database
) -> None:
    set_policy(db, {"required_checks": ["e2e"], "ci_timeout_s": CI_TIMEOUT_S})
    run_id = insert_run(db)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202
    make_due(db, "ci-status", "ci_timeout")
    bound, deps.settings.k_sink = deps.settings.k_sink, None  # the Service lost its binding
    refused = tick(url, 1)
    assert refused.status_code == 503
    assert refused.json()["error"] == "SinkNotBoundError" and refused.json()["field"] == "K_SINK"
    assert timers_of(db, run_id)[("ci-status", "ci_timeout")] is True
    deps.settings.k_sink = bound
    assert tick(url, 2).status_code == 202
    [event] = sink.of_type("ci.concluded.v1")
    assert event["reason"] == "ci_timeout"
    assert timers_of(db, run_id)[("ci-status", "ci_timeout")] is False


def test_no_ai_review_before_the_deadline_times_out_the_review(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    seed(github, {"reviews": {f"{REPO}#{PR}": []}, "review_threads": {f"{REPO}#{PR}": []}})
    run_id = insert_run(db)
    url = function_url("review_gate")
    assert run_completed(url, run_id).status_code == 202
    assert timers_of(db, run_id)[("review-gate", "review_timeout")] is True
    make_due(db, "review-gate", "review_timeout")
    assert tick(url, owner="review-gate").status_code == 202
    [event] = sink.of_type("review.concluded.v1")
    assert event["verdict"] == "timed_out" and event["reason"] == "review_timeout"
    assert event["waiting_for"] == ["ai_review"]
    row = run_row(db, run_id)
    assert row["review_verdict"] == "timed_out" and BOT in row["review_summary"]["message"]


def test_a_lost_review_webhook_is_recovered_by_reconcile(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    seed(github, {"reviews": {f"{REPO}#{PR}": []}, "review_threads": {f"{REPO}#{PR}": []}})
    run_id = insert_run(db)
    url = function_url("review_gate")
    assert run_completed(url, run_id).status_code == 202
    review = {
        "id": 80,
        "user": {"login": BOT, "type": "Bot"},
        "state": "APPROVED",
        "body": "LGTM",
        "commit_id": SHA,
        "submitted_at": "2025-10-12T00:10:00Z",
    }
    seed(github, {"reviews": {f"{REPO}#{PR}": [review]}, "review_threads": {f"{REPO}#{PR}": []}})
    make_due(db, "review-gate", "reconcile")
    assert tick(url, owner="review-gate").status_code == 202
    [event] = sink.of_type("review.concluded.v1")
    assert event["verdict"] == "approved" and event["reviewers"] == [BOT]
    assert not any(timers_of(db, run_id).values())


def _start_ci_status(settings: Any, github: ServedFake, sink_url: str) -> tuple[Any, str]:
    """ci-status as its own functions-framework process (as the mesh and Knative run it)."""
    import os
    import subprocess
    import sys

    from shared.local.mesh.processes import free_port, wait_ready
    from shared.local.mesh.supervisor import ROOT

    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=str(settings.database_url),
        CODEX_JUDGE_GITHUB_API_URL=github.url,
        K_SINK=sink_url,
        CODEX_JUDGE_FUNCTION_NAME="ci-status",
    )
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("functions-framework")),
            "--target=handle",
            "--signature-type=http",
            f"--source={ROOT / 'functions' / 'ci_status' / 'main.py'}",
            "--host=127.0.0.1",
            f"--port={port}",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc=proc)
    return proc, url


def test_a_function_killed_mid_wait_strands_nothing(
    settings: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    set_policy(db, {"required_checks": ["e2e"]})
    run_id = insert_run(db)
    first, url = _start_ci_status(settings, github, str(settings.k_sink))
    try:
        assert run_completed(url, run_id).status_code == 202
    finally:
        first.kill()  # SIGKILL: no shutdown hook runs, nothing in memory survives
        first.wait(timeout=10)
    # While no ci-status runs, the check concludes and its webhook is lost with the process.
    seed(github, {"check_runs": {f"{REPO}@{SHA}": [check_run(21, "e2e", "success")]}})
    second, url = _start_ci_status(settings, github, str(settings.k_sink))
    try:
        make_due(db, "ci-status", "reconcile")
        assert tick(url).status_code == 202
    finally:
        second.terminate()
        second.wait(timeout=10)
    [event] = sink.of_type("ci.concluded.v1")
    assert event["verdict"] == "success" and event["run_id"] == run_id
    assert run_row(db, run_id)["status"] == "waiting_for_review"
