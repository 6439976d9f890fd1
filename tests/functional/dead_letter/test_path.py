"""The dead-letter path through the local broker (DESIGN §6): a subscriber's failure is appended
to the KafkaSink's topic, the KafkaSource ``dead-letters`` carries it to the real dead-letter
function, and it ends as one row per (event, subscriber) in runtime.dead_letters, with its error
extensions. While the database is down the function answers 503 and the record is redelivered
until it is stored: nothing is lost.

The KafkaSink and the KafkaSource are the shipped ones (knative/base/dead-letters.yaml); the
Broker and the Triggers are small ones with a short retry window, and the broker runs 100 times
faster than real time so the source's hours-long window is minutes here.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest

from shared import bootstrap
from shared.db import Database
from shared.db.pool import connect_params
from shared.local.mesh.broker import LocalBroker
from shared.local.mesh.manifests import Manifests, parse_documents, read_documents
from shared.settings import Settings
from tests.conftest import ROOT
from tests.functional.local.test_broker import Recorder
from tests.support.tcp_proxy import CuttableProxy

NS = "codex-judge"
TOPIC = "codex-judge.dead-letters"
KAFKA_SINK = {
    "ref": {
        "apiVersion": "eventing.knative.dev/v1alpha1",
        "kind": "KafkaSink",
        "name": "dead-letters",
    }
}
SHORT = {
    "retry": 2,
    "backoffPolicy": "exponential",
    "backoffDelay": "PT1S",
    "timeout": "PT5S",
    "deadLetterSink": KAFKA_SINK,
}
TIME_SCALE = 0.01


def _manifests() -> Manifests:
    shipped = [
        (path, {**doc, "metadata": {**doc["metadata"], "namespace": NS}})
        for path, doc in read_documents([ROOT / "knative" / "base" / "dead-letters.yaml"])
    ]
    ours: list[dict[str, Any]] = [
        {
            "apiVersion": "eventing.knative.dev/v1",
            "kind": "Broker",
            "metadata": {"name": "codex-judge", "namespace": NS},
            "spec": {"delivery": SHORT},
        },
        *(
            {
                "apiVersion": "eventing.knative.dev/v1",
                "kind": "Trigger",
                "metadata": {"name": name, "namespace": NS},
                "spec": {
                    "broker": "codex-judge",
                    "filters": [{"exact": {"type": "io.codexjudge.run.completed.v1"}}],
                    "subscriber": {
                        "ref": {
                            "apiVersion": "serving.knative.dev/v1",
                            "kind": "Service",
                            "name": name,
                        }
                    },
                    "delivery": SHORT,
                },
            }
            for name in ("judge", "ci-status")
        ),
    ]
    return parse_documents([*shipped, *((Path("test.yaml"), doc) for doc in ours)])


def _answer(code: int, body: dict[str, Any]) -> Callable[[], flask.Response]:
    return lambda: flask.Response(json.dumps(body), status=code, mimetype="application/json")


def _event(event_id: str) -> dict[str, Any]:
    return {
        "headers": {
            "ce-specversion": "1.0",
            "ce-id": event_id,
            "ce-source": "/codex-judge/run-complete",
            "ce-type": "io.codexjudge.run.completed.v1",
            "ce-traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "Content-Type": "application/json",
        },
        "content": b'{"run_id": 7}',
    }


@pytest.fixture
def mesh() -> Iterator[Callable[[dict[str, str]], LocalBroker]]:
    started: list[LocalBroker] = []

    def _start(urls: dict[str, str]) -> LocalBroker:
        broker = LocalBroker(_manifests(), urls, time_scale=TIME_SCALE)
        broker.start("127.0.0.1", 0)
        started.append(broker)
        return broker

    yield _start
    for broker in started:
        broker.stop()


def _wait_idle(broker: LocalBroker, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if broker.idle(0.1):
            return broker.stats()
        time.sleep(0.05)
    raise AssertionError(f"broker never went idle: {broker.stats()}")


def _letters(database_url: str) -> list[dict[str, Any]]:
    db = Database(database_url, size=1)
    try:
        with db.transaction() as tx:
            return list(
                tx.all(
                    "SELECT subscriber, event_id, event_type, error_code, error_body, data,"
                    " attributes FROM runtime.dead_letters ORDER BY subscriber"
                )
            )
    finally:
        db.close()


def test_two_subscribers_failing_one_event_leave_two_dead_letters_through_kafka(
    mesh: Any, serve: Any, function_url: Any, database_url: str
) -> None:
    judge = Recorder(*[_answer(500, {"error": "UpstreamError", "message": "model down"})] * 3)
    ci_status = Recorder(
        _answer(422, {"error": "InvalidDataError", "message": "data.run_id: no such run"})
    )
    broker = mesh(
        {
            "judge": serve(judge.app).url,
            "ci-status": serve(ci_status.app).url,
            "dead-letter": function_url("dead_letter"),
        }
    )
    assert httpx.post(broker.ingress_url, **_event("rc-1")).status_code == 202
    stats = _wait_idle(broker)

    assert len(judge.requests) == 3 and len(ci_status.requests) == 1  # 500 retried, 422 not
    assert stats["dead_lettered"] == 2 and stats["dropped"] == 0
    assert stats["topics"] == {TOPIC: 2}
    records = broker.records(TOPIC)
    assert {r.headers["ce_knativeerrorcode"] for r in records} == {"500", "422"}
    assert all(r.headers["ce_id"] == "rc-1" and r.value == b'{"run_id": 7}' for r in records)

    rows = _letters(database_url)
    assert [(r["subscriber"], r["event_id"], r["error_code"]) for r in rows] == [
        ("ci-status", "rc-1", 422),
        ("judge", "rc-1", 500),
    ]
    assert rows[0]["error_body"]["message"] == "data.run_id: no such run"
    assert rows[1]["error_body"]["message"] == "model down"
    for row in rows:
        assert row["event_type"] == "io.codexjudge.run.completed.v1"  # not dev.knative.kafka.event
        assert bytes(row["data"]) == b'{"run_id": 7}'
        attrs = row["attributes"]
        assert attrs["traceparent"].startswith("00-0af7651916cd43dd")
        assert attrs["knativeerrordest"] == f"http://{row['subscriber']}.{NS}.svc.cluster.local"
        assert json.loads(base64.b64decode(attrs["knativeerrordata"]))["message"]


def test_dead_letters_wait_in_kafka_while_the_database_is_down_and_are_stored_after(
    mesh: Any, serve: Any, settings: Settings, database_url: str
) -> None:
    import functions_framework

    judge = Recorder(*[_answer(503, {"error": "DatabaseUnavailable", "message": "db down"})] * 3)
    params = connect_params(database_url)
    target = params.get("unix_sock") or (params["host"], params["port"])
    with CuttableProxy(target) as proxy:
        proxied = f"postgresql://{params['user']}@127.0.0.1:{proxy.port}/{params['database']}"
        container = bootstrap.build(settings.model_copy(update={"database_url": proxied}))
        bootstrap.install(container)
        try:
            dead_letter = functions_framework.create_app(
                target="handle",
                source=str(ROOT / "functions/dead_letter/main.py"),
                signature_type="http",
            )
            broker = mesh(
                {
                    "judge": serve(judge.app).url,
                    "ci-status": serve(Recorder().app).url,  # accepts: no dead letter
                    "dead-letter": serve(dead_letter).url,
                }
            )
            proxy.cut()
            assert httpx.post(broker.ingress_url, **_event("rc-2")).status_code == 202
            _wait_for(lambda: _dead_letter_statuses(broker).count(503) >= 3)
            assert _letters(database_url) == []  # down: nothing stored, nothing dropped
            assert broker.stats()["dropped"] == 0
            proxy.restore()
            stats = _wait_idle(broker)
        finally:
            bootstrap.install(None)
            container.db.close()

    statuses = _dead_letter_statuses(broker)
    assert statuses[-1] == 202 and set(statuses[:-1]) == {503}
    assert stats["dead_lettered"] == 1 and stats["dropped"] == 0
    ((subscriber, event_id, code),) = [
        (r["subscriber"], r["event_id"], r["error_code"]) for r in _letters(database_url)
    ]
    assert (subscriber, event_id, code) == ("judge", "rc-2", 503)


def _dead_letter_statuses(broker: LocalBroker) -> list[int | None]:
    return [e["status"] for e in broker.stats()["log"] if e["subscriber"] == "dead-letter"]


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
