"""Hostile input over real HTTP (issue 10, DESIGN §11): every function answers a clear 4xx
naming the field, keeps the request as a dead letter and goes on serving; nothing is a 5xx.

The limits themselves are :mod:`shared.runtime.limits` (JSON) and :mod:`shared.runtime.gate`
(methods, size)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from pydantic import SecretStr

from functions.github_webhook.signature import sign
from shared.bootstrap import Container
from shared.db import Database
from tests.conftest import ROOT
from tests.functional.github_webhook.test_github_webhook import HOOKS, SECRET, Sink, sink

__all__ = ["sink"]  # the recording Broker ingress github-webhook publishes to

#: Every event-consuming function folder (each is one Knative Service of the build); the api is
#: an HTTP Service with its own contract (tests/functional/test_api*.py).
FUNCTIONS = sorted(
    p.parent.name for p in (ROOT / "functions").glob("*/main.py") if p.parent.name != "api"
)
#: The functions that go through the runtime's JSON limits (the dead-letter sink stores any
#: data as bytes and accepts it).
CHECKING = [f for f in FUNCTIONS if f != "dead_letter"]


def _ce(event_id: str, body: bytes, event_type: str = "io.codexjudge.test.v1") -> dict[str, Any]:
    return {
        "headers": {
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-source": "/hostile",
            "ce-type": event_type,
            "content-type": "application/json",
        },
        "content": body,
    }


def _letters(db: Database, event_id: str) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT subscriber, event_id, error_code, error_body FROM runtime.dead_letters"
            " WHERE event_id = :id",
            id=event_id,
        )


def _count(db: Database, table: str) -> int:
    with db.transaction() as tx:
        row = tx.one(f"SELECT count(*) AS n FROM {table}")
    return int(row["n"]) if row else 0


def _still_serving(url: str) -> None:
    assert httpx.get(url + "/healthz").status_code == 200


@pytest.fixture
def secrets(deps: Container, sink: Sink) -> Iterator[None]:
    """github-webhook's secret, and a recording Broker ingress bound as its K_SINK."""
    deps.settings.github_webhook_secrets = [SecretStr(SECRET)]
    yield


# --- methods -----------------------------------------------------------------------------


@pytest.mark.parametrize("folder", FUNCTIONS)
def test_get_and_head_on_any_path_are_the_readiness_answer(function_url: Any, folder: str) -> None:
    url = function_url(folder)
    for path in ("/", "/healthz"):
        assert httpx.get(url + path).status_code == 200
        assert httpx.head(url + path).status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("folder", FUNCTIONS)
def test_methods_other_than_post_are_405_and_never_processed(
    function_url: Any, db: Database, folder: str, method: str
) -> None:
    url = function_url(folder)
    resp = httpx.request(method, url, **_ce(f"m-{method}", b'{"run_id": 1}'))
    assert resp.status_code == 405, resp.text
    assert resp.headers["allow"] == "GET, HEAD, POST"
    assert resp.json()["field"] == "method"
    with db.transaction() as tx:
        assert tx.all("SELECT 1 FROM runtime.inbox") == []
    assert [d["error_code"] for d in _letters(db, f"m-{method}")] == [405]
    _still_serving(url)


# --- size --------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("folder", FUNCTIONS)
def test_a_body_over_the_limit_is_413_naming_the_body(
    function_url: Any, deps: Container, db: Database, folder: str, chunked: bool
) -> None:
    deps.settings.max_body_bytes = 4096
    deps.settings.github_webhook_max_body_bytes = 4096
    url = function_url(folder)
    # github-webhook allows a relayed record 4/3 of its limit plus 64 KiB (base64 envelopes)
    body = b'{"pad": "' + b"x" * 200_000 + b'"}'
    request = _ce("big-1", body)
    if chunked:
        request["content"] = iter([body[:100_000], body[100_000:]])
    resp = httpx.post(url, **request)
    assert resp.status_code == 413, resp.text
    assert resp.json()["field"] == "body"
    assert [d["error_code"] for d in _letters(db, "big-1")] == [413]
    _still_serving(url)


def test_github_webhook_accepts_deliveries_up_to_its_own_larger_limit(
    function_url: Any, deps: Container, db: Database, secrets: None
) -> None:
    deps.settings.max_body_bytes = 4096  # the other functions' limit does not apply to it
    payload = json.loads((HOOKS / "pull_request.opened.octokit.json").read_bytes())
    payload["pull_request"]["body"] = "y" * 2_000_000
    body = json.dumps(payload).encode()
    resp = httpx.post(
        function_url("github_webhook"), headers=_github_headers(body, "big-pr"), content=body
    )
    assert resp.status_code == 200, resp.text


# --- JSON --------------------------------------------------------------------------------

HOSTILE_JSON = [
    ("deep-100", b'{"a": ' * 100 + b"1" + b"}" * 100, "data.a", "depth 64"),
    ("deep-5000", b"[" * 5000 + b"]" * 5000, "data", "depth 64"),
    ("nan", b'{"run_id": NaN}', "data", "finite numbers"),
    ("infinity", b'{"run_id": 1e400}', "data.run_id", "finite numbers"),
    ("surrogate", b'{"repository": "a\\ud800b"}', "data.repository", "Unicode scalar values"),
    ("bigint", b'{"run_id": 9223372036854775808}', "data.run_id", "bigint"),
    ("int4", b'{"run_id": 1, "pr_number": 2147483648}', "data.pr_number", "integer"),
    ("digits", b'{"run_id": ' + b"9" * 5000 + b"}", "data", "bigint"),
]


@pytest.mark.parametrize(
    ("case", "body", "field", "limit"), HOSTILE_JSON, ids=[c[0] for c in HOSTILE_JSON]
)
@pytest.mark.parametrize("folder", CHECKING)
def test_hostile_json_is_422_naming_the_field_and_dead_lettered(
    function_url: Any, db: Database, folder: str, case: str, body: bytes, field: str, limit: str
) -> None:
    url = function_url(folder)
    resp = httpx.post(url, **_ce(f"j-{case}", body))
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"].startswith(field)
    assert resp.json()["limit"] == limit
    assert [d["error_code"] for d in _letters(db, f"j-{case}")] == [422]
    _still_serving(url)


@pytest.mark.parametrize(("case", "body", "field", "limit"), HOSTILE_JSON[:2])
def test_a_structured_cloudevent_too_deep_is_422(
    function_url: Any, db: Database, case: str, body: bytes, field: str, limit: str
) -> None:
    doc = b'{"specversion": "1.0", "id": "s-1", "source": "/h", "type": "t", "data": %s}' % body
    resp = httpx.post(
        function_url("ci_status"),
        content=doc,
        headers={"content-type": "application/cloudevents+json"},
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"].startswith("body")
    assert resp.json()["limit"] == limit


def test_the_dead_letter_sink_stores_hostile_data_as_it_came(
    function_url: Any, db: Database
) -> None:
    for case, body, _, _ in HOSTILE_JSON:
        resp = httpx.post(function_url("dead_letter"), **_ce(f"dl-{case}", body))
        assert resp.status_code == 202, (case, resp.text)
        with db.transaction() as tx:
            row = tx.one(
                "SELECT data FROM runtime.dead_letters WHERE event_id = :id", id=f"dl-{case}"
            )
        assert row is not None and bytes(row["data"]) == body


@pytest.mark.parametrize(
    ("folder", "event_type", "data", "field"),
    [
        ("ci_status", "io.codexjudge.run.completed.v1", {"run_id": [1]}, "data.run_id"),
        (
            "notify",
            "io.codexjudge.run.notify.v1",
            {"workflow_uid": "u", "repository": []},
            "data.repository",
        ),
        ("judge", "io.codexjudge.ci.concluded.v1", {"run_id": {"a": 1}}, "data.run_id"),
    ],
)
def test_a_member_of_the_wrong_type_is_422_naming_it(
    function_url: Any, db: Database, folder: str, event_type: str, data: Any, field: str
) -> None:
    resp = httpx.post(function_url(folder), **_ce("wt-1", json.dumps(data).encode(), event_type))
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field
    assert len(_letters(db, "wt-1")) == 1


def test_a_cloudevent_attribute_with_nul_is_400_and_still_dead_lettered(
    function_url: Any, db: Database
) -> None:
    doc = {"specversion": "1.0", "id": "nul\u0000id", "source": "/h", "type": "t", "data": {}}
    resp = httpx.post(
        function_url("judge"),
        content=json.dumps(doc).encode(),
        headers={"content-type": "application/cloudevents+json"},
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["field"] == "id"
    assert _count(db, "runtime.dead_letters") == 1


# --- NUL is stored, as U+FFFD ------------------------------------------------------------


def _github_headers(body: bytes, delivery_id: str, event: str = "pull_request") -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize("member", ["body", "title"])
def test_a_signed_delivery_with_nul_in_the_pr_text_is_accepted_and_stored(
    function_url: Any, db: Database, secrets: None, member: str
) -> None:
    payload = json.loads((HOOKS / "pull_request.opened.octokit.json").read_bytes())
    payload["pull_request"][member] = "before\u0000after"
    body = json.dumps(payload).encode()
    assert b"\\u0000" in body
    resp = httpx.post(
        function_url("github_webhook"), headers=_github_headers(body, f"nul-{member}"), content=body
    )
    assert resp.status_code == 200, resp.text
    with db.transaction() as tx:
        stored = tx.one(
            "SELECT payload FROM github.events WHERE delivery_id = :id", id=f"nul-{member}"
        )
        pr = tx.one("SELECT title FROM github.pr_state")
    assert stored is not None
    assert stored["payload"]["pull_request"][member] == "before\ufffdafter"
    if member == "title":
        assert pr is not None and pr["title"] == "before\ufffdafter"


def test_notify_with_nul_in_the_summary_is_stored(function_url: Any, db: Database) -> None:
    body = json.dumps({"workflow_uid": "uid-nul", "summary": "a\u0000b"}).encode()
    resp = httpx.post(
        function_url("notify"), content=body, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 202, resp.text
    with db.transaction() as tx:
        run = tx.one("SELECT notify_payload FROM codex_judge.runs WHERE workflow_uid = 'uid-nul'")
    assert run is not None and run["notify_payload"]["summary"] == "a\ufffdb"


def _workflow(message: str) -> dict[str, Any]:
    return {
        "kind": "Workflow",
        "metadata": {"uid": "uid-hostile", "name": "wf", "namespace": "argo"},
        "status": {
            "phase": "Failed",
            "finishedAt": "2025-01-01T00:00:00Z",
            "message": message,
        },
    }


def test_run_complete_with_nul_in_the_message_records_the_run(
    function_url: Any, db: Database
) -> None:
    body = json.dumps(_workflow("exit \u0000 1")).encode()
    resp = httpx.post(
        function_url("run_complete"), **_ce("rc-nul", body, "dev.knative.kafka.event")
    )
    assert resp.status_code == 200, resp.text
    assert _count(db, "codex_judge.runs") == 1


# --- YAML aliases ------------------------------------------------------------------------

BILLION_LAUGHS = b"""kind: Workflow
metadata:
  uid: uid-laughs
  labels:
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
status:
  phase: Succeeded
  finishedAt: "2025-01-01T00:00:00Z"
"""


def test_a_yaml_record_with_aliases_is_422_and_nothing_is_stored(
    function_url: Any, db: Database
) -> None:
    assert len(BILLION_LAUGHS) < 600
    resp = httpx.post(
        function_url("run_complete"), **_ce("yaml-1", BILLION_LAUGHS, "dev.knative.kafka.event")
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "data"
    assert resp.json()["limit"] == "no aliases"
    assert _count(db, "codex_judge.runs") == 0
    assert len(_letters(db, "yaml-1")) == 1


def test_a_label_longer_than_kubernetes_allows_is_422_naming_it(
    function_url: Any, db: Database
) -> None:
    workflow = _workflow("done")
    workflow["metadata"]["labels"] = {"codex.issue": "x" * 64}
    resp = httpx.post(
        function_url("run_complete"),
        **_ce("label-1", json.dumps(workflow).encode(), "dev.knative.kafka.event"),
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "data.metadata.labels.codex.issue"


def test_an_issue_label_beyond_postgres_integer_is_not_an_issue_number(
    function_url: Any, db: Database
) -> None:
    workflow = _workflow("done")
    workflow["metadata"]["labels"] = {"codex.issue-number": "99999999999"}
    resp = httpx.post(
        function_url("run_complete"),
        **_ce("label-2", json.dumps(workflow).encode(), "dev.knative.kafka.event"),
    )
    assert resp.status_code == 200, resp.text
    with db.transaction() as tx:
        run = tx.one("SELECT issue_number FROM codex_judge.runs")
    assert run is not None and run["issue_number"] is None


# --- github-webhook: form encoding, filing by delivery id ---------------------------------


def test_a_form_encoded_delivery_is_verified_over_the_raw_body_and_stored(
    function_url: Any, db: Database, secrets: None
) -> None:
    payload = (HOOKS / "pull_request.opened.octokit.json").read_bytes()
    body = b"payload=" + quote_from_bytes(payload).encode()
    headers = _github_headers(body, "form-1")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    resp = httpx.post(function_url("github_webhook"), headers=headers, content=body)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-type"] == "com.github.pull_request.opened"
    with db.transaction() as tx:
        stored = tx.one("SELECT payload FROM github.events WHERE delivery_id = 'form-1'")
    assert stored is not None and stored["payload"] == json.loads(payload)


def test_a_form_encoded_delivery_signed_over_the_json_alone_is_401(
    function_url: Any, db: Database, secrets: None
) -> None:
    payload = (HOOKS / "pull_request.opened.octokit.json").read_bytes()
    headers = _github_headers(payload, "form-2")  # signed over the JSON, not the raw body
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = b"payload=" + quote_from_bytes(payload).encode()
    resp = httpx.post(function_url("github_webhook"), headers=headers, content=body)
    assert resp.status_code == 401


@pytest.mark.parametrize(
    ("case", "mutate", "field"),
    [
        ("deep", lambda p: p.update(deep=json.loads("[" * 100 + "]" * 100)), "body.deep"),
        ("pr-number", lambda p: p["pull_request"].update(number=2**31), "body.pull_request.number"),
        ("repository-list", lambda p: p.update(repository=[1]), "body.repository"),
        (
            "non-ascii-repository",
            lambda p: p["repository"].update(full_name="ünï/cödé"),
            "body.repository.full_name",
        ),
    ],
)
def test_a_rejected_signed_delivery_is_filed_under_its_github_delivery_id(
    function_url: Any, db: Database, secrets: None, case: str, mutate: Any, field: str
) -> None:
    payload = json.loads((HOOKS / "pull_request.opened.octokit.json").read_bytes())
    mutate(payload)
    body = json.dumps(payload).encode()
    url = function_url("github_webhook")
    resp = httpx.post(url, headers=_github_headers(body, f"gh-{case}"), content=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"].startswith(field)
    letters = _letters(db, f"gh-{case}")
    assert [(d["subscriber"], d["error_code"]) for d in letters] == [("github-webhook", 422)]
    _still_serving(url)


def test_a_non_ascii_event_name_is_422(function_url: Any, db: Database, secrets: None) -> None:
    body = (HOOKS / "pull_request.opened.octokit.json").read_bytes()
    headers: dict[str, Any] = _github_headers(body, "gh-event")
    headers["X-GitHub-Event"] = "püll_request".encode()
    resp = httpx.post(function_url("github_webhook"), headers=headers, content=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "x-github-event"
    assert len(_letters(db, "gh-event")) == 1


def test_a_kafka_record_carrying_a_hostile_body_is_422(
    function_url: Any, db: Database, secrets: None
) -> None:
    raw = b'{"action": "opened", "number": ' + b"[" * 100 + b"]" * 100 + b"}"
    record = {
        "headers": {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "k-1"},
        "body_raw_base64": base64.b64encode(raw).decode(),
    }
    resp = httpx.post(
        function_url("github_webhook"),
        **_ce("kafka-1", json.dumps(record).encode(), "dev.knative.kafka.event"),
    )
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"].startswith("body.number")
    assert len(_letters(db, "kafka-1")) == 1
