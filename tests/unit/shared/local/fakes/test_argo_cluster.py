"""The fake Argo's cluster emulation over real HTTP: a submitted workflow finishes with the
configured phase and its completion reaches the sink in our Argo Events sensor's payload."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import flask
import httpx
import pytest

from shared.argo import WorkflowCompletion, load_document, parse_completion
from shared.argo.workflow import failed_steps
from shared.local.fakes import argo as fake_argo
from shared.local.fakes.base import ServedFake, create_fake_app, json_answer, serve_fake
from tests.conftest import FIXTURES

SUCCEEDED = load_document(
    (FIXTURES / "corpus/argo/workflow.succeeded.wftref-arguments.yaml").read_text()
)
FAILED = load_document(
    (FIXTURES / "corpus/argo/workflow.failed.dag-disable-fail-fast.yaml").read_text()
)
TOPIC_PATH = "/_mesh/kafka/argo.workflows.completions"


@pytest.fixture
def sink() -> Iterator[ServedFake]:
    """A stand-in for the local broker's KafkaSource endpoint that records what it gets."""
    app, _ = create_fake_app("sink", {}, None)

    @app.post(TOPIC_PATH)
    def record() -> flask.Response:
        return json_answer(202, {"topic": "argo.workflows.completions"})

    served = serve_fake(app)
    yield served
    served.stop()


@pytest.fixture
def argo(sink: ServedFake) -> Iterator[ServedFake]:
    served = serve_fake(
        fake_argo.create_app(
            {
                "complete": {
                    "sink": sink.url + TOPIC_PATH,
                    "phases": {
                        "verify-app": "Succeeded",
                        "codex-judge.io/suite=e2e": "Failed",
                    },
                    "delay_s": 0.05,
                    "templates": {"Succeeded": SUCCEEDED, "Failed": FAILED},
                }
            }
        )
    )
    yield served
    served.stop()


def _submit(argo: ServedFake, template: str, labels: str) -> dict[str, Any]:
    body = {
        "resourceKind": "WorkflowTemplate",
        "resourceName": template,
        "submitOptions": {
            "generateName": f"{template}-",
            "labels": labels,
            "annotations": "codex-judge.io/repository=o/r",
            "parameters": ["revision=" + "a" * 40, "run_id=7"],
        },
    }
    answer = httpx.post(f"{argo.url}/api/v1/workflows/argo/submit", json=body)
    assert answer.status_code == 200
    return dict(answer.json())


def _completions(argo: ServedFake, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done = httpx.get(f"{argo.url}/_fake/state").json().get("completions", [])
        if len(done) >= count:
            return list(done)
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} completions were recorded")


def _posted(sink: ServedFake) -> list[dict[str, Any]]:
    return list(httpx.get(f"{sink.url}/_fake/requests").json()["requests"])


def test_matched_workflow_succeeds_and_its_completion_reaches_the_sink(
    argo: ServedFake, sink: ServedFake
) -> None:
    created = _submit(argo, "verify-app", "codex-judge.io/verifies-run=7")
    [done] = _completions(argo, 1)
    assert done["phase"] == "Succeeded" and done["sink_status"] == 202
    [request] = _posted(sink)
    assert request["headers"]["X-Kafka-Key"] == created["metadata"]["uid"]
    completion = parse_completion(request["json"])
    assert isinstance(completion, WorkflowCompletion)
    assert completion.phase == "Succeeded"
    assert completion.uid == created["metadata"]["uid"]
    assert completion.name == created["metadata"]["name"]
    assert completion.labels["codex-judge.io/verifies-run"] == "7"
    assert completion.labels["workflows.argoproj.io/workflow-template"] == "verify-app"
    assert completion.parameters == {"revision": "a" * 40, "run_id": "7"}
    # The recorded status is reused under the workflow's own name.
    nodes = request["json"]["status"]["nodes"]
    assert list(nodes) == [created["metadata"]["name"]]
    read = httpx.get(f"{argo.url}/api/v1/workflows/argo/{created['metadata']['name']}").json()
    assert read["status"]["phase"] == "Succeeded"


def test_failed_workflow_carries_the_recorded_failed_steps(
    argo: ServedFake, sink: ServedFake
) -> None:
    created = _submit(argo, "verify-other", "codex-judge.io/suite=e2e")
    [done] = _completions(argo, 1)
    assert done["phase"] == "Failed"
    [request] = _posted(sink)
    completion = parse_completion(request["json"])
    assert isinstance(completion, WorkflowCompletion) and completion.phase == "Failed"
    assert failed_steps(request["json"]) == ["C"]  # the payload embeds the status object
    read = httpx.get(f"{argo.url}/api/v1/workflows/argo/{created['metadata']['name']}").json()
    assert read["status"]["phase"] == "Failed" and failed_steps(read) == ["C"]


def test_unmatched_workflow_stays_pending_and_nothing_is_published(
    argo: ServedFake, sink: ServedFake
) -> None:
    created = _submit(argo, "deploy-app", "codex-judge.io/deploys-run=7")
    _submit(argo, "verify-app", "codex-judge.io/verifies-run=8")
    _completions(argo, 1)  # the matched one finished: the unmatched had as long
    read = httpx.get(f"{argo.url}/api/v1/workflows/argo/{created['metadata']['name']}").json()
    assert read["status"]["phase"] == "Pending"
    published = [parse_completion(r["json"]) for r in _posted(sink)]
    assert [c.labels.get("codex-judge.io/verifies-run") for c in published] == ["8"]  # type: ignore[union-attr]
