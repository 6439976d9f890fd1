"""run-complete over real HTTP with real CloudEvents, against a real Postgres.

Records are built from the corpus Workflow objects (tests/fixtures/argo holds the derived
sensor payloads); the originals, without Codex metadata, are the missing-metadata case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from shared.argo import load_document, payload_from_workflow
from shared.db import Database

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
KAFKA_SOURCE = (
    "/apis/v1/namespaces/codex-judge/kafkasources/argo-workflow-completions"
    "#argo.workflows.completions"
)
PARAMS = FIXTURES / "argo" / "sensor.succeeded.artgc-mixed-s3.params.json"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _kafka_headers(
    offset: int, key: str = "9fe40595-8612-4312-ba2c-d64bad1fb3ee"
) -> dict[str, str]:
    """Exactly what the KafkaSource sends: binary mode, no Content-Type."""
    return {
        "ce-specversion": "1.0",
        "ce-id": f"partition:0/offset:{offset}",
        "ce-source": KAFKA_SOURCE,
        "ce-type": "dev.knative.kafka.event",
        "ce-subject": f"partition:0#{offset}",
        "ce-key": key,
    }


def _post(url: str, offset: int, body: bytes) -> httpx.Response:
    return httpx.post(url, headers=_kafka_headers(offset), content=body, timeout=10)


def _codex_record(uid: str, attempt: int, issue: int = 42) -> bytes:
    doc = json.loads(PARAMS.read_text())
    params = {
        "repository": "acme/widgets",
        "issue_number": str(issue),
        "head_sha": SHA,
        "attempt": str(attempt),
    }
    doc["uid"] = uid
    doc["metadata"] = {**doc["metadata"], "uid": uid}
    doc["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in params.items()]}
    return json.dumps(doc).encode()


def _runs(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT id, workflow_uid, status, reason, attempt, repository, "
            "issue_number, head_sha, updated_at FROM codex_judge.runs ORDER BY id"
        )


def test_kafka_record_without_content_type_becomes_a_run_waiting_for_ci(function_url, db) -> None:
    resp = _post(function_url("run_complete"), 5, PARAMS.read_bytes())
    assert resp.status_code == 200
    assert resp.headers["ce-type"] == "io.codexjudge.run.completed.v1"
    data = resp.json()
    assert data["status"] == "waiting_for_ci"
    assert (data["repository"], data["issue_number"], data["attempt"]) == ("acme/widgets", 42, 1)
    assert data["head_sha"] == SHA and data["phase"] == "Succeeded"
    with db.transaction() as tx:
        artifacts = tx.all(
            "SELECT name, bucket FROM codex_judge.artifacts WHERE run_id = :id", id=data["run_id"]
        )
    assert {"name": "on-deletion", "bucket": "my-bucket"} in artifacts
    assert len(artifacts) == 5


def test_structured_cloudevent_with_a_yaml_workflow_is_accepted(function_url, db) -> None:
    yaml_text = (FIXTURES / "corpus/argo/workflow.failed.onexit-s3-keys.yaml").read_text()
    event = {
        "specversion": "1.0",
        "id": "wf-1",
        "source": "/argo",
        "type": "argo.workflow",
        "datacontenttype": "application/yaml",
        "data": yaml_text,
    }
    resp = httpx.post(
        function_url("run_complete"),
        content=json.dumps(event),
        headers={"Content-Type": "application/cloudevents+json"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.json()["phase"] == "Failed"
    assert resp.json()["workflow_uid"] == "f72bf6f7-3d8c-4b31-893b-ef03d4718959"


def test_binary_cloudevent_with_the_label_metadata_record(function_url) -> None:
    body = (FIXTURES / "argo/sensor.failed.onexit-s3-keys.labels.json").read_bytes()
    resp = httpx.post(
        function_url("run_complete"),
        content=body,
        timeout=10,
        headers={
            "ce-specversion": "1.0",
            "ce-id": "x-1",
            "ce-source": "/argo-events",
            "ce-type": "io.argoproj.workflow.completed",
            "content-type": "application/json",
        },
    )
    assert resp.status_code == 200
    data = resp.json()
    assert (data["status"], data["issue_number"], data["attempt"], data["pr_number"]) == (
        "waiting_for_ci",
        7,
        2,
        8,
    )


def test_duplicate_delivery_gets_the_same_reply_and_changes_nothing(function_url, db) -> None:
    url = function_url("run_complete")
    first = _post(url, 5, PARAMS.read_bytes())
    before = _runs(db)
    again = _post(url, 5, PARAMS.read_bytes())
    assert again.status_code == 200
    assert again.headers["ce-id"] == first.headers["ce-id"]
    assert again.json() == first.json()
    assert _runs(db) == before


def test_repeated_argo_update_under_a_new_event_id_gets_the_same_reply_id(function_url, db) -> None:
    url = function_url("run_complete")
    first = _post(url, 5, PARAMS.read_bytes())
    before = _runs(db)
    repeat = _post(url, 9, PARAMS.read_bytes())
    assert repeat.status_code == 200
    assert repeat.headers["ce-id"] == first.headers["ce-id"]
    assert _runs(db) == before
    with db.transaction() as tx:
        assert tx.one("SELECT count(*) AS n FROM codex_judge.artifacts")["n"] == 5


def test_workflow_without_run_metadata_is_escalated_and_still_replied(function_url, db) -> None:
    workflow = load_document(
        (FIXTURES / "corpus/argo/workflow.succeeded.wftref-arguments.yaml").read_text()
    )
    resp = _post(
        function_url("run_complete"), 1, json.dumps(payload_from_workflow(workflow)).encode()
    )
    assert resp.status_code == 200
    assert (resp.json()["status"], resp.json()["reason"]) == ("needs_human", "missing_run_metadata")
    assert [(r["workflow_uid"], r["status"]) for r in _runs(db)] == [
        ("57dac176-2e10-4f1d-b77c-db321d187d83", "needs_human")
    ]


def test_running_workflow_is_answered_202_and_nothing_is_recorded(function_url, db) -> None:
    raw = (FIXTURES / "corpus/argo/workflow.running.dag-exhausted-retries.yaml").read_bytes()
    resp = _post(function_url("run_complete"), 2, raw)
    assert resp.status_code == 202
    assert resp.content == b""
    assert _runs(db) == []


def test_malformed_record_is_422_naming_the_field_and_dead_lettered(function_url, db) -> None:
    body = b'{"uid": "u-1", "phase": "Succeeded", "metadata": [1, 2]}'
    resp = _post(function_url("run_complete"), 3, body)
    assert resp.status_code == 422
    assert resp.json()["field"] == "data.metadata"
    with db.transaction() as tx:
        letters = tx.all("SELECT subscriber, event_id, error_code, data FROM runtime.dead_letters")
    assert [
        (d["subscriber"], d["event_id"], d["error_code"], bytes(d["data"])) for d in letters
    ] == [("run-complete", "partition:0/offset:3", 422, body)]
    assert _runs(db) == []


def test_new_attempt_supersedes_the_older_run(function_url, db) -> None:
    url = function_url("run_complete")
    assert _post(url, 1, _codex_record("uid-attempt-1", 1)).json()["status"] == "waiting_for_ci"
    second = _post(url, 2, _codex_record("uid-attempt-2", 2)).json()
    assert (second["status"], second["attempt"]) == ("waiting_for_ci", 2)
    assert [(r["workflow_uid"], r["status"], r["reason"]) for r in _runs(db)] == [
        ("uid-attempt-1", "superseded", "superseded_by_new_attempt"),
        ("uid-attempt-2", "waiting_for_ci", None),
    ]


def test_a_deploy_workflow_is_not_recorded_as_a_run(function_url, db) -> None:
    workflow = load_document(
        (FIXTURES / "corpus/argo/workflow.succeeded.artgc-mixed-s3.yaml").read_text()
    )
    workflow["metadata"].setdefault("labels", {})["codex-judge.io/deploys-run"] = "7"
    body = json.dumps(payload_from_workflow(workflow)).encode()
    resp = _post(function_url("run_complete"), 3, body)
    assert resp.status_code == 202
    assert _runs(db) == []
