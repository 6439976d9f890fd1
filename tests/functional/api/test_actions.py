"""Operator actions over real HTTP with real Postgres: operator scope, the compare-and-set
transitions, the event published to the Broker, the audit with the actor, and exactly once under
a duplicate request."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.db import Database
from shared.settings import Settings
from tests.support.api_seed import (
    OPERATOR,
    READ,
    Sink,
    api_settings,
    seed_dead_letter,
    seed_run,
)

DECIDED = "io.codexjudge.judge.decided.v1"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, broker: Sink) -> Settings:
    return api_settings(database_url, tmp_path, read_tokens=(READ,), k_sink=broker.url)


def _post(
    api: str, path: str, key: str | None = None, token: str = OPERATOR, **body: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return httpx.post(api + path, headers=headers, json=body)


def _run(db: Database, run_id: int) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one(
            "SELECT status, reason, decision FROM codex_judge.runs WHERE id = :id", id=run_id
        )
    assert row is not None
    return row


def _audit(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT action, actor, outcome, status_code FROM codex_judge.operator_actions"
            " ORDER BY id"
        )


def test_a_read_token_may_not_act(api: str, db: Database, broker: Sink) -> None:
    run_id = seed_run(db)
    resp = _post(api, f"/api/runs/{run_id}/approve", token=READ)
    assert resp.status_code == 403
    assert _run(db, run_id)["status"] == "needs_human"
    assert broker.received == [] and _audit(db) == []


def test_approve_moves_the_run_to_merging_and_publishes_a_pass_once(
    api: str, db: Database, broker: Sink
) -> None:
    run_id = seed_run(db)
    answers = [
        _post(api, f"/api/runs/{run_id}/approve", key="k-approve-1", comment="looked at it")
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    first = answers[0].json()
    assert (first["outcome"], first["actor"], first["run_status"]) == (
        "approved",
        "alice",
        "merging",
    )
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    assert answers[1].json()["event_id"] == first["event_id"]
    assert _run(db, run_id) == {
        "status": "merging",
        "reason": "operator_approved",
        "decision": "pass",
    }
    ((headers, body),) = broker.of_type(DECIDED)
    assert headers["ce-decision"] == "pass" and headers["ce-id"] == first["event_id"]
    data = json.loads(body)
    assert data["run_id"] == run_id and data["decision"] == "pass"
    assert data["reasons"][0] == {
        "code": "operator_approved",
        "message": "approve by alice: looked at it",
    }
    assert _audit(db) == [
        {"action": "approve", "actor": "alice", "outcome": "approved", "status_code": 200}
    ]
    # A second approval with a new key is refused by the compare-and-set, nothing published.
    again = _post(api, f"/api/runs/{run_id}/approve", key="k-approve-2")
    assert again.status_code == 409 and "merging" in again.json()["message"]
    assert len(broker.of_type(DECIDED)) == 1


def test_concurrent_duplicates_act_once(api: str, db: Database, broker: Sink) -> None:
    run_id = seed_run(db)
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: _post(api, f"/api/runs/{run_id}/approve", key="same"), range(4))
        )
    assert {a.status_code for a in answers} <= {200, 409}
    assert sum(not a.json().get("duplicate", True) for a in answers if a.status_code == 200) == 1
    assert len(broker.of_type(DECIDED)) == 1
    assert len(_audit(db)) == 1


def test_approval_is_refused_where_it_cannot_cure(api: str, db: Database, broker: Sink) -> None:
    closed = seed_run(db, issue=1, reason="pr_closed")
    unjudged = seed_run(db, issue=2, decision=None, reason="timer_failed")
    running = seed_run(db, issue=3, status="waiting_for_ci", decision=None, reason=None)
    for run_id, words in (
        (closed, "pr_closed"),
        (unjudged, "no sealed evaluation"),
        (running, "waiting_for_ci"),
    ):
        resp = _post(api, f"/api/runs/{run_id}/approve")
        assert resp.status_code == 409, run_id
        assert words in resp.json()["message"]
    assert broker.received == []
    assert _post(api, "/api/runs/999999/approve").status_code == 404


def test_rerun_publishes_needs_iteration_with_the_operators_prompt(
    api: str, db: Database, broker: Sink
) -> None:
    run_id = seed_run(db)
    resp = _post(api, f"/api/runs/{run_id}/rerun", key="r1", prompt="try the other approach")
    assert resp.status_code == 200 and resp.json()["outcome"] == "rerun_requested"
    assert _run(db, run_id)["status"] == "needs_iteration"
    ((headers, body),) = broker.of_type(DECIDED)
    assert headers["ce-decision"] == "needs_iteration"
    assert json.loads(body)["next_prompt"] == "try the other approach"
    assert _post(api, f"/api/runs/{run_id}/rerun", key="r1").json()["duplicate"] is True
    assert len(broker.received) == 1


def test_cancel_retires_the_runs_timers_and_refuses_a_run_being_merged(
    api: str, db: Database
) -> None:
    waiting = seed_run(db, issue=1, status="waiting_for_ci", decision=None, reason=None)
    merging = seed_run(db, issue=2, status="merging", decision="pass", reason=None)
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO runtime.timers (owner, run_id, kind, due_at) VALUES"
            " ('ci-status', :id, 'ci_timeout', now()),"
            " ('review-gate', :id, 'review_timeout', now())",
            id=waiting,
        )
    resp = _post(api, f"/api/runs/{waiting}/cancel", key="c1", comment="wrong issue")
    assert resp.status_code == 200 and resp.json()["outcome"] == "cancelled"
    assert _run(db, waiting) == {
        "status": "superseded",
        "reason": "cancelled_by_operator",
        "decision": None,
    }
    with db.transaction() as tx:
        pending = tx.all(
            "SELECT kind FROM runtime.timers WHERE run_id = :id AND done_at IS NULL", id=waiting
        )
    assert pending == []
    assert _post(api, f"/api/runs/{waiting}/cancel", key="c1").json()["duplicate"] is True
    refused = _post(api, f"/api/runs/{merging}/cancel")
    assert refused.status_code == 409 and _run(db, merging)["status"] == "merging"


def test_replay_posts_the_dead_letter_without_the_error_extensions_once(
    api: str, db: Database, broker: Sink
) -> None:
    dead = seed_dead_letter(db, event_id="ev-42")
    for _ in range(2):
        resp = _post(api, f"/api/dead-letters/{dead}/replay", key="d1")
        assert resp.status_code == 200
    ((headers, body),) = broker.received
    assert headers["ce-id"] == "ev-42" and headers["ce-type"] == "io.codexjudge.run.completed.v1"
    assert "ce-knativeerrordest" not in headers and "ce-knativeerrorcode" not in headers
    assert headers["content-type"] == "application/json" and body == b'{"run": 1}'
    with db.transaction() as tx:
        row = tx.one("SELECT replayed_at FROM runtime.dead_letters WHERE id = :id", id=dead)
    assert row is not None and row["replayed_at"] is not None
    assert _post(api, "/api/dead-letters/424242/replay").status_code == 404


def test_a_failed_publish_is_finished_by_the_retry_with_the_same_key(
    api: str, db: Database, broker: Sink
) -> None:
    run_id = seed_run(db)
    broker.failing = True
    first = _post(api, f"/api/runs/{run_id}/approve", key="retry-me")
    assert first.status_code == 503 and first.json()["field"] == "K_SINK"
    assert _run(db, run_id)["status"] == "merging"  # committed before the publish
    broker.failing = False
    second = _post(api, f"/api/runs/{run_id}/approve", key="retry-me")
    assert second.status_code == 200 and second.json()["outcome"] == "approved"
    assert len(broker.of_type(DECIDED)) == 1
    third = _post(api, f"/api/runs/{run_id}/approve", key="retry-me")
    assert third.json()["duplicate"] is True and len(broker.received) == 1


def test_a_key_reused_for_another_action_is_refused_naming_it(api: str, db: Database) -> None:
    run_id = seed_run(db)
    assert _post(api, f"/api/runs/{run_id}/cancel", key="k").status_code == 200
    resp = _post(api, f"/api/runs/{run_id}/approve", key="k")
    assert resp.status_code == 422 and resp.json()["field"] == "Idempotency-Key"


def test_an_invalid_body_is_a_422_naming_the_member(api: str, db: Database) -> None:
    run_id = seed_run(db)
    resp = _post(api, f"/api/runs/{run_id}/approve", comment="x" * 3000)
    assert resp.status_code == 422 and resp.json()["field"] == "body.comment"
    resp = _post(api, f"/api/runs/{run_id}/approve", colour="red")
    assert resp.status_code == 422 and resp.json()["field"] == "body.colour"
    assert _run(db, run_id)["status"] == "needs_human"


def test_a_needs_iteration_run_without_a_planned_rerun_is_rerun_through_the_rerun_function(
    api: str, db: Database, broker: Sink, function_url: Any
) -> None:
    """The operator's judge.decided goes to the real rerun function, which plans the attempt
    with the operator's prompt; once planned, a second rerun is refused."""
    run_id = seed_run(db, status="needs_iteration", decision="needs_iteration", reason="ci_failed")
    resp = _post(api, f"/api/runs/{run_id}/rerun", key="it-1", prompt="split the change")
    assert resp.status_code == 200 and resp.json()["outcome"] == "rerun_requested"
    assert _run(db, run_id) == {
        "status": "needs_iteration",
        "reason": "operator_rerun",
        "decision": "needs_iteration",
    }
    assert _post(api, f"/api/runs/{run_id}/rerun", key="it-1").json()["duplicate"] is True
    ((headers, body),) = broker.of_type(DECIDED)
    forwarded = {k: v for k, v in headers.items() if k.startswith("ce-") or k == "content-type"}
    assert httpx.post(function_url("rerun"), headers=forwarded, content=body).status_code < 300
    with db.transaction() as tx:
        planned = tx.one(
            "SELECT attempt, state, next_prompt FROM codex_judge.rerun_submissions"
            " WHERE run_id = :id",
            id=run_id,
        )
    assert planned == {"attempt": 2, "state": "scheduled", "next_prompt": "split the change"}
    again = _post(api, f"/api/runs/{run_id}/rerun", key="it-2")
    assert again.status_code == 409 and "already has its rerun planned" in again.json()["message"]
    assert len(broker.of_type(DECIDED)) == 1
    with db.transaction() as tx:
        audited = tx.all(
            "SELECT action, actor, status_code FROM codex_judge.operator_actions"
            " WHERE run_id = :id ORDER BY id",
            id=run_id,
        )
    assert [(a["action"], a["actor"], a["status_code"]) for a in audited] == [
        ("rerun", "alice", 200),
        ("rerun", "alice", 409),
    ]


def test_a_read_token_cannot_rerun_a_needs_iteration_run(api: str, db: Database) -> None:
    run_id = seed_run(db, status="needs_iteration", decision="needs_iteration", reason="ci_failed")
    resp = _post(api, f"/api/runs/{run_id}/rerun", token=READ)
    assert resp.status_code == 403
    assert _run(db, run_id)["reason"] == "ci_failed"
