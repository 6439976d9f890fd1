"""github-webhook consuming Froussard's Kafka envelope through the KafkaSource `github-events`
(topic github.webhooks): `{deliveryId, event, action, repository, sender, receivedAt, payload}`,
stored once per delivery id. Payloads are real recorded deliveries (Cogni-DAO fixtures)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx

from shared.db import Database

HOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "github-webhooks"
SOURCE = "/apis/v1/namespaces/codex-judge/kafkasources/github-events#github.webhooks"


def froussard_record(name: str) -> dict[str, Any]:
    """A recorded delivery wrapped as Froussard publishes it."""
    recorded = json.loads((HOOKS / name).read_text())
    payload = json.loads(base64.b64decode(recorded["body_raw_base64"]))
    return {
        "deliveryId": recorded["headers"]["x-github-delivery"],
        "event": recorded["headers"]["x-github-event"],
        "action": payload.get("action"),
        "repository": payload["repository"]["full_name"],
        "sender": payload["sender"]["login"],
        "receivedAt": "2025-10-12T00:09:01.000Z",
        "payload": payload,
    }


def post_record(url: str, record: Any, offset: int) -> httpx.Response:
    """POST as the Broker delivers a KafkaSource event: binary mode, no content type."""
    return httpx.post(
        url,
        content=json.dumps(record).encode(),
        headers={
            "ce-specversion": "1.0",
            "ce-id": f"partition:0/offset:{offset}",
            "ce-source": SOURCE,
            "ce-type": "dev.knative.kafka.event",
            "ce-subject": f"partition:0#{offset}",
        },
    )


def stored(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all("SELECT delivery_id, event, action FROM github.events ORDER BY delivery_id")


def test_a_froussard_record_is_stored_projected_and_replied_as_the_github_event(
    function_url: Any, db: Database
) -> None:
    record = froussard_record("check_run.completed.skipped.cogni-delivery.json")
    resp = post_record(function_url("github_webhook"), record, 7)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-type"] == "com.github.check_run.completed"
    assert resp.headers["ce-id"] == record["deliveryId"]
    assert stored(db) == [
        {"delivery_id": record["deliveryId"], "event": "check_run", "action": "completed"}
    ]
    with db.transaction() as tx:
        check = tx.one("SELECT name, conclusion, app_id, suite_id FROM github.check_state")
    assert check == {
        "name": "OpenSSF Scorecard (weekly)",
        "conclusion": "skipped",
        "app_id": 15368,
        "suite_id": 47422842078,
    }


def test_the_same_delivery_at_another_offset_is_stored_once_with_the_same_event_id(
    function_url: Any, db: Database
) -> None:
    url = function_url("github_webhook")
    record = froussard_record("pull_request.synchronize.cogni-delivery.json")
    first = post_record(url, record, 1)
    again = post_record(url, record, 2)  # Froussard or Kafka redelivered it
    assert first.status_code == again.status_code == 200
    assert first.headers["ce-id"] == again.headers["ce-id"] == record["deliveryId"]
    assert len(stored(db)) == 1


def test_an_envelope_without_a_payload_object_is_rejected_naming_the_field(
    function_url: Any, db: Database
) -> None:
    record = froussard_record("check_run.created.cogni-delivery.json")
    record["payload"] = "not an object"
    resp = post_record(function_url("github_webhook"), record, 3)
    assert resp.status_code == 422
    assert resp.json()["field"] == "data.payload"
    assert stored(db) == []
