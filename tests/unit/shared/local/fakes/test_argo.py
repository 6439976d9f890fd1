"""The fake Argo server over real HTTP: recorded workflows are served, submissions recorded."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import yaml

from shared.local.fakes import argo as fake_argo
from shared.local.fakes.base import ServedFake, serve_fake
from tests.conftest import FIXTURES

WORKFLOW = yaml.safe_load(
    (FIXTURES / "corpus/argo/workflow.succeeded.wftref-arguments.yaml").read_text()
)


@pytest.fixture
def argo() -> Iterator[ServedFake]:
    key = f"{WORKFLOW['metadata']['namespace']}/{WORKFLOW['metadata']['name']}"
    served = serve_fake(fake_argo.create_app({"workflows": {key: WORKFLOW}}))
    yield served
    served.stop()


def test_recorded_workflow_is_served_and_unknown_is_argo_404(argo: ServedFake) -> None:
    found = httpx.get(f"{argo.url}/api/v1/workflows/default/workflow-template-hello-world-jdkdw")
    missing = httpx.get(f"{argo.url}/api/v1/workflows/default/nope")
    assert found.json()["status"]["phase"] == "Succeeded"
    assert missing.status_code == 404
    assert missing.json() == {
        "code": 5,
        "message": 'workflows.argoproj.io "nope" not found',
        "details": [],
    }


def test_submission_is_recorded_and_the_created_workflow_can_be_read(argo: ServedFake) -> None:
    body = {
        "resourceKind": "WorkflowTemplate",
        "resourceName": "codex-run",
        "submitOptions": {"parameters": ["issue=7", "prompt=fix it"], "labels": "codex.issue=7"},
    }
    created = httpx.post(f"{argo.url}/api/v1/workflows/codex/submit", json=body).json()
    name = created["metadata"]["name"]
    assert name.startswith("codex-run-")
    assert created["spec"]["arguments"]["parameters"] == [
        {"name": "issue", "value": "7"},
        {"name": "prompt", "value": "fix it"},
    ]
    assert created["metadata"]["labels"] == {"codex.issue": "7"}
    read = httpx.get(f"{argo.url}/api/v1/workflows/codex/{name}").json()
    assert read["metadata"]["uid"] == created["metadata"]["uid"]
    state = httpx.get(f"{argo.url}/_fake/state").json()
    assert state["submissions"] == [body]


def test_submission_without_a_template_is_rejected(argo: ServedFake) -> None:
    resp = httpx.post(f"{argo.url}/api/v1/workflows/codex/submit", json={"namespace": "codex"})
    assert resp.status_code == 400 and resp.json()["code"] == 3


def test_state_can_be_replaced_and_requests_cleared(argo: ServedFake) -> None:
    httpx.get(f"{argo.url}/api/v1/workflows/default/nope")
    assert len(httpx.get(f"{argo.url}/_fake/requests").json()["requests"]) == 1
    assert httpx.delete(f"{argo.url}/_fake/requests").status_code == 204
    assert httpx.get(f"{argo.url}/_fake/requests").json()["requests"] == []
    replaced = httpx.put(f"{argo.url}/_fake/state", json={"workflows": {}}).json()
    assert replaced == {"workflows": {}, "submissions": []}
    gone = httpx.get(f"{argo.url}/api/v1/workflows/default/workflow-template-hello-world-jdkdw")
    assert gone.status_code == 404
