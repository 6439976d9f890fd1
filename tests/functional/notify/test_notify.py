"""notify over real HTTP: a plain JSON POST from the Codex wrapper (or a CloudEvent), merged
into its run, before or after run-complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from shared.db import Database

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RECORD = FIXTURES / "argo" / "sensor.succeeded.wftref-arguments.stringified.json"
UID = "57dac176-2e10-4f1d-b77c-db321d187d83"  # workflow.succeeded.wftref-arguments.yaml
SHA = "fedcba9876543210fedcba9876543210fedcba98"
KAFKA = {
    "ce-specversion": "1.0",
    "ce-id": "partition:0/offset:1",
    "ce-source": "/apis/v1/namespaces/codex-judge/kafkasources/argo-workflow-completions"
    "#argo.workflows.completions",
    "ce-type": "dev.knative.kafka.event",
    "ce-subject": "partition:0#1",
    "ce-key": UID,
}


def _events(name: str) -> list[dict[str, Any]]:
    text = (FIXTURES / "corpus" / "codex-exec" / name).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _run(db: Database) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one("SELECT * FROM codex_judge.runs WHERE workflow_uid = :uid", uid=UID)
    assert row is not None
    return row


def _messages(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all("SELECT seq, kind FROM workflow_comms.agent_messages ORDER BY seq")


def test_notify_before_run_complete_creates_a_notified_run_that_completion_fills(
    function_url, db
) -> None:
    notify = function_url("notify")
    resp = httpx.post(
        notify,
        json={
            "workflow_uid": UID,
            "prompt": "Fix issue 9",
            "pr_number": 11,
            "events": _events("success.vincent.jsonl"),
        },
        timeout=10,
    )
    assert resp.status_code == 202
    run = _run(db)
    assert (run["status"], run["pr_number"]) == ("notified", 11)
    assert [m["kind"] for m in _messages(db)] == [
        "thread.started",
        "turn.started",
        "agent_message",
        "turn.completed",
    ]

    done = httpx.post(
        function_url("run_complete"), headers=KAFKA, content=RECORD.read_bytes(), timeout=10
    )
    assert done.status_code == 200
    assert done.json()["status"] == "waiting_for_ci"
    assert done.json()["pr_number"] == 11  # a gap the workflow left, filled by notify
    run = _run(db)
    assert (run["status"], run["repository"], run["issue_number"], run["head_sha"]) == (
        "waiting_for_ci",
        "acme/widgets",
        9,
        SHA,
    )
    assert run["notify_payload"]["prompt"] == "Fix issue 9"


def test_later_notify_adds_keys_and_keeps_earlier_ones(function_url, db) -> None:
    notify = function_url("notify")
    httpx.post(notify, json={"workflow_uid": UID, "prompt": "p", "summary": "first"}, timeout=10)
    httpx.post(
        notify,
        json={
            "workflow_uid": UID,
            "summary": "final",
            "log_excerpt": "ok",
            "runner": "codex-0.147",
        },
        timeout=10,
    )
    assert _run(db)["notify_payload"] == {
        "workflow_uid": UID,
        "prompt": "p",
        "summary": "final",
        "log_excerpt": "ok",
        "runner": "codex-0.147",
    }


def test_notify_after_run_complete_keeps_the_status_and_stores_agent_messages(
    function_url, db
) -> None:
    httpx.post(function_url("run_complete"), headers=KAFKA, content=RECORD.read_bytes(), timeout=10)
    jsonl = (FIXTURES / "corpus/codex-exec/failure.vincent.jsonl").read_text()
    resp = httpx.post(
        function_url("notify"), json={"workflow_uid": UID, "events": jsonl}, timeout=10
    )
    assert resp.status_code == 202
    assert _run(db)["status"] == "waiting_for_ci"
    assert [m["kind"] for m in _messages(db)] == [
        "thread.started",
        "error",
        "turn.started",
        "error",
        "turn.failed",
    ]


def test_retried_post_with_the_same_idempotency_key_is_merged_once(function_url, db) -> None:
    notify = function_url("notify")
    headers = {"Idempotency-Key": "wrapper-attempt-1"}
    for summary in ("first", "second"):
        resp = httpx.post(
            notify, json={"workflow_uid": UID, "summary": summary}, headers=headers, timeout=10
        )
        assert resp.status_code == 202
    assert _run(db)["notify_payload"]["summary"] == "first"
    with db.transaction() as tx:
        inbox = tx.all("SELECT source, event_id FROM runtime.inbox WHERE consumer = 'notify'")
    assert inbox == [{"source": "/notify", "event_id": "wrapper-attempt-1"}]


def test_notify_as_a_cloudevent_is_accepted(function_url, db) -> None:
    resp = httpx.post(
        function_url("notify"),
        content=json.dumps({"workflow_uid": UID, "summary": "via broker"}),
        headers={
            "ce-specversion": "1.0",
            "ce-id": "n-1",
            "ce-source": "/wrapper",
            "ce-type": "io.codexjudge.run.notify.v1",
            "content-type": "application/json",
        },
        timeout=10,
    )
    assert resp.status_code == 202
    assert _run(db)["notify_payload"]["summary"] == "via broker"


def test_notify_without_workflow_uid_is_422_naming_the_field(function_url, db) -> None:
    resp = httpx.post(function_url("notify"), json={"summary": "lost"}, timeout=10)
    assert resp.status_code == 422
    assert resp.json()["field"] == "data.workflow_uid"
    with db.transaction() as tx:
        assert tx.one("SELECT count(*) AS n FROM codex_judge.runs")["n"] == 0
        letters = tx.all("SELECT subscriber, event_source FROM runtime.dead_letters")
    assert letters == [{"subscriber": "notify", "event_source": "/notify"}]


def test_notify_body_that_is_not_json_is_422(function_url) -> None:
    resp = httpx.post(
        function_url("notify"),
        content=b"summary=lost",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert resp.status_code == 422
    assert resp.json()["field"] == "data"
