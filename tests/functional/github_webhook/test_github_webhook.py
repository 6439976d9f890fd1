"""github-webhook over real HTTP with the real recorded, signed GitHub deliveries."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
from pydantic import SecretStr

from functions.github_webhook.signature import sign
from shared.bootstrap import Container
from shared.db import Database

HOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "github-webhooks"
SECRET = "402786017574bd28f9d8f7a18648939751c47fe09077d56e10f0444f14fbb73b"


def _delivery(name: str) -> tuple[dict[str, str], bytes]:
    envelope = json.loads((HOOKS / name).read_text())
    body = base64.b64decode(envelope["body_raw_base64"])
    keep = (
        "x-github-event",
        "x-github-delivery",
        "x-hub-signature-256",
        "content-type",
        "user-agent",
    )
    return {k: v for k, v in envelope["headers"].items() if k in keep}, body


def _signed(name: str, event: str, delivery_id: str) -> tuple[dict[str, str], bytes]:
    body = (HOOKS / name).read_bytes()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/json",
    }, body


class Sink:
    """A stand-in Broker ingress that records binary-mode CloudEvents."""

    def __init__(self) -> None:
        self.status = 202
        self.received: list[dict[str, str]] = []
        self.app = flask.Flask("sink")
        self.app.add_url_rule("/", "ingress", self._ingress, methods=["POST"])

    def _ingress(self) -> flask.Response:
        self.received.append({k.lower(): v for k, v in flask.request.headers.items()})
        return flask.Response(b"", status=self.status)


@pytest.fixture
def sink(deps: Container, serve: Any) -> Iterator[Sink]:
    recorder = Sink()
    deps.settings.k_sink = serve(recorder.app).url + "/"
    yield recorder


@pytest.fixture
def webhook(deps: Container, function_url: Any, sink: Sink) -> str:
    """The function, bound to a recording Broker ingress as its SinkBinding binds it."""
    deps.settings.github_webhook_secrets = [SecretStr("an-older-secret"), SecretStr(SECRET)]
    return str(function_url("github_webhook"))


def _events(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT delivery_id, event, action, repository, published_at"
            " FROM github.events ORDER BY delivery_id"
        )


@pytest.mark.parametrize("name", sorted(p.name for p in HOOKS.glob("*.cogni-delivery.json")))
def test_real_signed_delivery_is_verified_stored_and_replied_as_a_cloudevent(
    webhook: str, db: Database, name: str
) -> None:
    headers, body = _delivery(name)
    resp = httpx.post(webhook, headers=headers, content=body)
    assert resp.status_code == 200, resp.text
    payload = json.loads(body)
    expected = f"com.github.{headers['x-github-event']}.{payload['action']}"
    assert resp.headers["ce-type"] == expected
    assert resp.headers["ce-id"] == headers["x-github-delivery"]
    assert resp.headers["ce-source"] == "/github/derekg1729/test-repo"
    assert resp.json() == payload
    assert [e["delivery_id"] for e in _events(db)] == [headers["x-github-delivery"]]


def test_forged_or_missing_signature_is_401_and_stored_nowhere(webhook: str, db: Database) -> None:
    headers, body = _delivery("check_run.created.cogni-delivery.json")
    forged = dict(headers, **{"x-hub-signature-256": sign("not-the-secret", body)})
    assert httpx.post(webhook, headers=forged, content=body).status_code == 401
    unsigned = {k: v for k, v in headers.items() if k != "x-hub-signature-256"}
    resp = httpx.post(webhook, headers=unsigned, content=body)
    assert resp.status_code == 401 and resp.json()["field"] == "X-Hub-Signature-256"
    tampered = body.replace(b"queued", b"complete")
    assert httpx.post(webhook, headers=headers, content=tampered).status_code == 401
    assert _events(db) == []
    with db.transaction() as tx:
        assert tx.all("SELECT 1 FROM runtime.dead_letters") == []


def test_check_run_delivery_projects_the_check_at_its_commit(webhook: str, db: Database) -> None:
    headers, body = _delivery("check_run.completed.skipped.cogni-delivery.json")
    resp = httpx.post(webhook, headers=headers, content=body)
    assert resp.headers["ce-subject"] == "a69811586879ea72cb7657e555fcdb45cf96c6d6"
    with db.transaction() as tx:
        rows = tx.all("SELECT head_sha, name, status, conclusion, app_slug FROM github.check_state")
    assert rows == [
        {
            "head_sha": "a69811586879ea72cb7657e555fcdb45cf96c6d6",
            "name": "OpenSSF Scorecard (weekly)",
            "status": "completed",
            "conclusion": "skipped",
            "app_slug": "github-actions",
        }
    ]


def test_late_older_pull_request_delivery_does_not_roll_the_projection_back(
    webhook: str, db: Database
) -> None:
    for name in (
        "pull_request.closed.merged.cogni-delivery.json",
        "pull_request.opened.cogni-delivery.json",
    ):
        headers, body = _delivery(name)
        assert httpx.post(webhook, headers=headers, content=body).status_code == 200
    with db.transaction() as tx:
        row = tx.one(
            "SELECT head_sha, state, merged FROM github.pr_state"
            " WHERE repository = 'derekg1729/test-repo' AND pr_number = 315"
        )
    assert row == {
        "head_sha": "b47337c4ca1d0241a46b452efc902c18973b5ad6",
        "state": "closed",
        "merged": True,
    }


def test_delivery_is_published_to_the_sink_once(webhook: str, sink: Sink, db: Database) -> None:
    headers, body = _signed(
        "pull_request_review.submitted.approved.prow.json", "pull_request_review", "d-approve-1"
    )
    for _ in range(2):
        resp = httpx.post(webhook, headers=headers, content=body)
        assert resp.status_code == 200
    assert len(sink.received) == 1
    published = sink.received[0]
    assert published["ce-type"] == "com.github.pull_request_review.submitted"
    assert published["ce-id"] == "d-approve-1"
    assert published["ce-source"] == "/github/kubernetes/kubernetes"
    assert published["ce-subject"] == "66686"
    assert _events(db)[0]["published_at"] is not None


def test_failed_publish_answers_503_and_a_redelivery_publishes(
    webhook: str, sink: Sink, db: Database
) -> None:
    headers, body = _signed("status.success.octokit.json", "status", "d-status-1")
    sink.status = 500
    resp = httpx.post(webhook, headers=headers, content=body)
    assert resp.status_code == 503
    assert _events(db)[0]["published_at"] is None
    sink.status = 202
    assert httpx.post(webhook, headers=headers, content=body).status_code == 200
    assert len(sink.received) == 2 and sink.received[1]["ce-type"] == "com.github.status"
    assert _events(db)[0]["published_at"] is not None


def test_webhook_relayed_through_kafka_is_processed_and_replied(webhook: str, db: Database) -> None:
    envelope = json.loads((HOOKS / "check_suite.completed.success.cogni-delivery.json").read_text())
    resp = httpx.post(
        webhook,
        content=json.dumps(envelope).encode(),
        headers={
            "ce-specversion": "1.0",
            "ce-id": "partition:0/offset:42",
            "ce-source": "/apis/v1/namespaces/codex-judge/kafkasources/github#github.webhooks",
            "ce-type": "dev.knative.kafka.event",
            "ce-subject": "partition:0#42",
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-type"] == "com.github.check_suite.completed"
    assert resp.headers["ce-id"] == envelope["headers"]["x-github-delivery"]
    assert [e["event"] for e in _events(db)] == ["check_suite"]
