"""The Argo and Argo CD adapters against their fakes over real HTTP, and the pure helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.adapters.argo import HttpxArgo, argo_pairs, submit_body
from shared.adapters.argocd import HttpxArgoCD
from shared.adapters.http import UpstreamRejectedError
from shared.argo import load_document
from shared.argo.workflow import failed_steps
from shared.errors import UpstreamError
from shared.local.fakes import argo as fake_argo
from shared.local.fakes import argocd as fake_argocd
from shared.local.fakes.base import ServedFake, fake_store, serve_fake

CORPUS = Path(__file__).resolve().parents[3] / "fixtures" / "corpus" / "argo"
SHA = "5d6f1e4e7a3c2b1a0f9e8d7c6b5a493827160514"
OLD = "1" * 40


@pytest.fixture
def argo() -> Iterator[tuple[ServedFake, HttpxArgo]]:
    app = fake_argo.create_app()
    served = serve_fake(app)
    yield served, HttpxArgo(served.url, token="t0ken")
    served.stop()


@pytest.fixture
def argocd() -> Iterator[tuple[ServedFake, HttpxArgoCD]]:
    app = fake_argocd.create_app(
        {
            "applications": {"web": fake_argocd.application("web", revision=OLD)},
            "behaviour": {"web": {"polls_to_sync": 2}},
        }
    )
    served = serve_fake(app)
    yield served, HttpxArgoCD(served.url, token="t0ken")
    served.stop()


def test_labels_and_annotations_use_argos_comma_separated_string_format() -> None:
    body = submit_body(
        "e2e",
        parameters={"revision": SHA},
        labels={"codex-judge.io/verifies-run": "7", "team": "a"},
        annotations={"codex-judge.io/repository": "o/r"},
        generate_name="verify-7-",
    )
    assert body == {
        "resourceKind": "WorkflowTemplate",
        "resourceName": "e2e",
        "submitOptions": {
            "parameters": [f"revision={SHA}"],
            "labels": "codex-judge.io/verifies-run=7,team=a",
            "annotations": "codex-judge.io/repository=o/r",
            "generateName": "verify-7-",
        },
    }
    with pytest.raises(ValueError, match="cannot carry"):
        argo_pairs({"note": "a,b"}, field="annotations")


def test_submit_creates_a_labelled_workflow_that_can_be_read_back(
    argo: tuple[ServedFake, HttpxArgo],
) -> None:
    served, client = argo
    created = client.submit(
        "argo",
        "e2e",
        parameters={"revision": SHA},
        labels={"codex-judge.io/verifies-run": "7"},
        annotations={"codex-judge.io/repository": "o/r"},
        generate_name="verify-7-",
    )
    assert created.name.startswith("verify-7-") and created.namespace == "argo"
    workflow = client.get_workflow("argo", created.name)
    assert workflow is not None
    assert workflow["metadata"]["labels"] == {"codex-judge.io/verifies-run": "7"}
    assert workflow["metadata"]["annotations"] == {"codex-judge.io/repository": "o/r"}
    assert client.get_workflow("argo", "missing") is None
    request = fake_store(served.server.app).requests[0]  # type: ignore[attr-defined]
    assert request["headers"]["Authorization"] == "Bearer ***"


def test_an_unreachable_argo_server_is_transient() -> None:
    with pytest.raises(UpstreamError):
        HttpxArgo("http://127.0.0.1:9", timeout_s=2).get_workflow("argo", "x")


def test_failed_steps_name_the_retried_step_once() -> None:
    failed = load_document((CORPUS / "workflow.failed.dag-disable-fail-fast.yaml").read_text())
    succeeded = load_document((CORPUS / "workflow.succeeded.wftref-arguments.yaml").read_text())
    assert failed_steps(failed) == ["C"]
    assert failed_steps(succeeded) == []


def test_argocd_sync_reaches_synced_healthy_at_the_requested_revision_after_the_set_polls(
    argocd: tuple[ServedFake, HttpxArgoCD],
) -> None:
    _, client = argocd
    started = client.sync("web", SHA)
    assert started.sync_status == "OutOfSync" and started.operation_phase == "Running"
    first = client.get_application("web")
    assert (first.revision, first.health_status) == (OLD, "Progressing")
    done = client.get_application("web")
    assert (done.sync_status, done.revision, done.health_status) == ("Synced", SHA, "Healthy")
    assert [h.revision for h in done.history] == [OLD, SHA]


def test_a_repeated_sync_while_its_operation_runs_is_that_sync_and_another_revision_waits() -> None:
    """Argo CD refuses a sync while an operation runs (400, grpc code 9); a worker that died
    after its sync started repeats it and must get that sync back, not a failure (issue 10)."""
    app = fake_argocd.create_app(
        {
            "applications": {"web": fake_argocd.application("web", revision=OLD)},
            "behaviour": {"web": {"polls_to_sync": 4}},
        }
    )
    served = serve_fake(app)
    try:
        client = HttpxArgoCD(served.url)
        client.sync("web", SHA)
        raw = httpx.post(f"{served.url}/api/v1/applications/web/sync", json={"revision": SHA})
        assert raw.status_code == 400 and raw.json()["code"] == 9  # Argo CD's refusal
        again = client.sync("web", SHA)  # poll 1 of 4
        assert (again.operation_phase, again.operation_revision) == ("Running", SHA)
        with pytest.raises(UpstreamError) as refused:  # poll 2: transient, retried later
            client.sync("web", "c" * 40)
        assert refused.value.status == 503 and "another operation" in refused.value.message
        assert [s["revision"] for s in fake_store(app).state["syncs"]] == [SHA]
        client.get_application("web")  # poll 3
        done = client.get_application("web")  # poll 4: the sync finishes
        assert (done.sync_status, done.revision, done.operation_revision) == ("Synced", SHA, SHA)
        assert client.sync("web", "c" * 40).operation_phase == "Running"  # the next one starts
    finally:
        served.stop()


def test_argocd_rollback_restores_a_history_entry_and_unknown_apps_are_rejected(
    argocd: tuple[ServedFake, HttpxArgoCD],
) -> None:
    _, client = argocd
    client.sync("web", SHA)
    client.get_application("web")
    client.get_application("web")
    rolled = client.rollback("web", 0)
    assert rolled.revision == OLD
    with pytest.raises(UpstreamRejectedError):
        client.get_application("nope")
