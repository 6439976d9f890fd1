"""The delivery contract, the same for every CloudEvent function (DESIGN §6): a malformed event
is answered 4xx naming the field and kept as a dead letter; structured and binary mode are the
same event; a duplicate is answered from the inbox without repeating the work."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shared.db import Database
from shared.local.fakes.base import ServedFake
from tests.functional.ci_status.test_ci_status import REPO, SHA, check_run, github, insert_run, seed

__all__ = ["github"]  # the fake GitHub fixture, shared with the ci-status tests

# (function folder, Knative name, event type, a malformed body, the field it must name)
MALFORMED = [
    ("run_complete", "run-complete", "dev.knative.kafka.event", b"\x00 not a record", "data"),
    ("ci_status", "ci-status", "io.codexjudge.run.completed.v1", b'{"run_id": "seven"}', "data"),
    ("review_gate", "review-gate", "io.codexjudge.run.completed.v1", b"[1, 2]", "data"),
    ("judge", "judge", "io.codexjudge.ci.concluded.v1", b'{"run_id": 1}', "data"),
    ("discord", "discord", "io.codexjudge.judge.decided.v1", b"{}", "data"),
    ("notify", "notify", "io.codexjudge.run.notify.v1", b'{"summary": "no uid"}', "data"),
]


def _binary(event_id: str, event_type: str, body: bytes) -> dict[str, Any]:
    return {
        "headers": {
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-source": "/contract",
            "ce-type": event_type,
            "content-type": "application/json",
        },
        "content": body,
    }


@pytest.mark.parametrize(("folder", "name", "event_type", "body", "field"), MALFORMED)
def test_malformed_event_is_4xx_naming_the_field_and_dead_lettered(
    function_url: Any,
    db: Database,
    folder: str,
    name: str,
    event_type: str,
    body: bytes,
    field: str,
) -> None:
    resp = httpx.post(function_url(folder), **_binary("bad-1", event_type, body))
    assert resp.status_code in (400, 422), resp.text
    assert resp.json()["field"].startswith(field)
    with db.transaction() as tx:
        letters = tx.all("SELECT subscriber, event_id, error_code, data FROM runtime.dead_letters")
    assert [(d["subscriber"], d["event_id"], d["error_code"]) for d in letters] == [
        (name, "bad-1", resp.status_code)
    ]
    assert bytes(letters[0]["data"]) == body


def _run_completed(run_id: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "workflow_uid": "uid-7",
        "phase": "Succeeded",
        "status": "waiting_for_ci",
        "repository": REPO,
        "head_sha": SHA,
        "pr_number": 166,
    }


def test_structured_event_and_its_binary_duplicate_get_one_verdict(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(github, {"check_runs": {f"{REPO}@{SHA}": [check_run(1, "build", "success")]}})
    run_id = insert_run(db)
    url = function_url("ci_status")
    structured = {
        "specversion": "1.0",
        "id": "rc-42",
        "source": "/contract",
        "type": "io.codexjudge.run.completed.v1",
        "datacontenttype": "application/json",
        "data": _run_completed(run_id),
    }
    first = httpx.post(
        url,
        content=json.dumps(structured).encode(),
        headers={"content-type": "application/cloudevents+json"},
    )
    again = httpx.post(
        url,
        **_binary(
            "rc-42", "io.codexjudge.run.completed.v1", json.dumps(_run_completed(run_id)).encode()
        ),
    )
    assert first.status_code == again.status_code == 200
    assert first.headers["ce-type"] == "io.codexjudge.ci.concluded.v1"
    assert again.headers["ce-id"] == first.headers["ce-id"]
    assert again.json() == first.json()
    requests = httpx.get(f"{github.url}/_fake/requests").json()["requests"]
    assert sum(r["path"] == "/graphql" for r in requests) == 1  # the duplicate asked nothing
    with db.transaction() as tx:
        inbox = tx.all("SELECT consumer, event_id FROM runtime.inbox")
    assert inbox == [{"consumer": "ci-status", "event_id": "rc-42"}]
