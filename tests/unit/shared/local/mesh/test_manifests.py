"""Reading Knative manifests into typed objects for the local mesh."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.local.mesh.kustomize import ClusterBuildError
from shared.local.mesh.manifests import ManifestError, load_manifests, parse_documents
from tests.conftest import ROOT


def test_the_repository_manifests_load_into_one_broker_with_its_triggers() -> None:
    manifests = load_manifests(ROOT)
    broker = manifests.broker()
    assert (broker.name, broker.namespace) == ("codex-judge", "codex-judge")
    assert broker.delivery is not None and broker.delivery.dead_letter_sink is not None
    assert sorted(t.name for t in manifests.triggers_of(broker)) == [
        "ci-status",
        "deploy",
        "discord",
        "github-webhook",
        "judge",
        "memories",
        "merge",
        "prompt-tune",
        "rerun",
        "review-gate",
        "run-complete",
        "scheduler",
    ]
    run_complete = next(t for t in manifests.triggers if t.name == "run-complete")
    assert run_complete.filters[0] == {"exact": {"type": "dev.knative.kafka.event"}}
    judge = next(s for s in manifests.services if s.name == "judge")
    assert judge.replies == ("io.codexjudge.judge.decided.v1", "io.codexjudge.run.escalated.v1")


def test_kinds_the_mesh_does_not_emulate_are_skipped() -> None:
    docs = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "plain"}},
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": "db"},
            "spec": {"instances": 1},
        },
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {
                "name": "judge",
                "namespace": "ns",
                "annotations": {"codex-judge.io/replies": " a.v1 , b.v1,"},
            },
        },
    ]
    manifests = parse_documents((Path("x.yaml"), d) for d in docs)
    assert [(s.name, s.replies) for s in manifests.services] == [("judge", ("a.v1", "b.v1"))]


def test_an_invalid_trigger_names_the_file_and_field() -> None:
    doc = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "judge", "namespace": "ns"},
        "spec": {"broker": "b", "subscriber": {"ref": {"kind": "Service"}}},
    }
    with pytest.raises(ManifestError, match=r"bad\.yaml: Trigger 'judge': subscriber\.ref\.name"):
        parse_documents([(Path("bad.yaml"), doc)])


def test_an_overlay_kustomize_cannot_build_is_reported_with_its_message(tmp_path: Path) -> None:
    overlay = tmp_path / "knative" / "overlays" / "dev"
    overlay.mkdir(parents=True)
    (overlay / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(ClusterBuildError, match=r"kubectl kustomize .*missing\.yaml"):
        load_manifests(tmp_path)
    with pytest.raises(ClusterBuildError, match="no such overlay"):
        load_manifests(tmp_path, "staging")


def test_asking_for_a_missing_broker_is_a_clear_error() -> None:
    with pytest.raises(ManifestError, match="expected one Broker named 'other'"):
        load_manifests(ROOT).broker("other")
