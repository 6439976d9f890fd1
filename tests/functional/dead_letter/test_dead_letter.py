"""dead-letter over real HTTP: stores what the Broker could not deliver, once."""

from __future__ import annotations

import base64
import json

import httpx

from shared.db import Database


def _dead_letter_headers(event_id: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/apis/v1/namespaces/codex-judge/kafkasources/argo#argo.workflows.completions",
        "ce-type": "dev.knative.kafka.event",
        "ce-knativeerrordest": "http://run-complete.codex-judge.svc.cluster.local",
        "ce-knativeerrorcode": "422",
        "ce-knativeerrordata": base64.b64encode(
            json.dumps(
                {
                    "error": "InvalidDataError",
                    "message": "data.metadata: missing",
                    "field": "data.metadata",
                }
            ).encode()
        ).decode(),
    }


def test_dead_lettered_event_is_stored_once_with_its_error(function_url, db: Database) -> None:
    url = function_url("dead_letter")
    body = b'{"not": "a workflow"}'
    for _ in range(2):
        resp = httpx.post(url, headers=_dead_letter_headers("partition:0/offset:7"), content=body)
        assert resp.status_code == 202
    with db.transaction() as tx:
        rows = tx.all(
            "SELECT subscriber, event_id, error_code, error_body, data, reason"
            " FROM runtime.dead_letters"
        )
    assert len(rows) == 1
    row = rows[0]
    assert row["subscriber"] == "run-complete"
    assert row["error_code"] == 422
    assert row["error_body"]["field"] == "data.metadata"
    assert bytes(row["data"]) == body
    assert row["reason"] == "data.metadata: missing"


def test_request_that_is_not_a_cloudevent_gets_400_naming_the_field(function_url, db) -> None:
    resp = httpx.post(function_url("dead_letter"), json={"hello": "world"})
    assert resp.status_code == 400
    assert resp.json()["field"] == "ce-specversion"
    with db.transaction() as tx:
        stored = tx.all("SELECT subscriber FROM runtime.dead_letters")
    assert stored == [{"subscriber": "dead-letter"}]


def test_two_subscribers_failing_one_event_are_two_dead_letters(function_url, db: Database) -> None:
    url = function_url("dead_letter")
    judge = {
        **_dead_letter_headers("rc-9"),
        "ce-knativeerrordest": "http://judge.codex-judge.svc.cluster.local",
        "ce-knativeerrorcode": "500",
    }
    for headers in (_dead_letter_headers("rc-9"), judge, judge):  # the last one a duplicate
        assert httpx.post(url, headers=headers, content=b"{}").status_code == 202
    with db.transaction() as tx:
        rows = tx.all(
            "SELECT subscriber, event_id, error_code FROM runtime.dead_letters ORDER BY subscriber"
        )
    assert rows == [
        {"subscriber": "judge", "event_id": "rc-9", "error_code": 500},
        {"subscriber": "run-complete", "event_id": "rc-9", "error_code": 422},
    ]


def test_a_functions_own_refusal_and_the_brokers_copy_of_it_are_one_dead_letter(
    function_url, db: Database
) -> None:
    body = b'{"uid": "u-1", "phase": "Succeeded", "metadata": [1, 2]}'
    event = {
        "ce-specversion": "1.0",
        "ce-id": "partition:0/offset:11",
        "ce-source": _dead_letter_headers("x")["ce-source"],
        "ce-type": "dev.knative.kafka.event",
    }
    refused = httpx.post(function_url("run_complete"), headers=event, content=body)
    assert refused.status_code == 422 and refused.json()["field"] == "data.metadata"
    # The Broker's copy: Knative truncates knativeerrordata, so it no longer parses as JSON.
    copy = {
        **event,
        "ce-knativeerrordest": "http://run-complete.codex-judge.svc.cluster.local",
        "ce-knativeerrorcode": "422",
        "ce-knativeerrordata": base64.b64encode(refused.content[:24]).decode(),
    }
    assert httpx.post(function_url("dead_letter"), headers=copy, content=body).status_code == 202
    with db.transaction() as tx:
        rows = tx.all(
            "SELECT subscriber, reason, error_code, error_body, attributes, data"
            " FROM runtime.dead_letters"
        )
    assert len(rows) == 1
    row = rows[0]
    assert (row["subscriber"], row["error_code"]) == ("run-complete", 422)
    assert row["reason"] == refused.json()["message"]  # the function's own words are kept
    assert row["error_body"]["field"] == "data.metadata"
    assert row["error_body"]["raw"] == refused.content[:24].decode()
    assert row["attributes"]["knativeerrordest"].startswith("http://run-complete.")
    assert bytes(row["data"]) == body
