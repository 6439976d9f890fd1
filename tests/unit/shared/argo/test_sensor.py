"""The sensor manifest, its Python mirror and the derived fixtures agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from shared.argo import KAFKA_TOPIC, SENSOR_PAYLOAD, load_document, payload_from_workflow
from shared.local.mesh.kustomize import kustomize_build

ROOT = Path(__file__).resolve().parents[4]
DERIVED = ROOT / "tests" / "fixtures" / "argo"


def _sensor() -> dict:
    """The Sensor as the production overlay deploys it."""
    return next(d for d in kustomize_build(ROOT, "production") if d["kind"] == "Sensor")


def test_manifest_publishes_finished_workflows_to_the_completions_topic() -> None:
    sensor = _sensor()
    kafka = sensor["spec"]["triggers"][0]["template"]["kafka"]
    assert kafka["topic"] == KAFKA_TOPIC == "argo.workflows.completions"
    phase_filter = sensor["spec"]["dependencies"][0]["filters"]["data"][0]
    assert phase_filter["path"] == "body.status.phase"
    assert sorted(phase_filter["value"]) == ["Error", "Failed", "Succeeded"]
    assert kafka["parameters"][0]["src"]["dataKey"] == "body.metadata.uid"
    assert kafka["parameters"][0]["dest"] == "partitioningKey"


def test_manifest_payload_is_the_mapping_payload_from_workflow_implements() -> None:
    payload = _sensor()["spec"]["triggers"][0]["template"]["kafka"]["payload"]
    in_manifest = [
        (p["dest"], p["src"]["dataKey"], bool(p["src"].get("useRawData")), p["src"].get("value"))
        for p in payload
    ]
    assert in_manifest == list(SENSOR_PAYLOAD)


def test_payload_from_workflow_builds_the_documented_record() -> None:
    raw = (ROOT / "tests/fixtures/corpus/argo/workflow.failed.onexit-s3-keys.yaml").read_text()
    workflow = load_document(raw)
    payload = payload_from_workflow(workflow)
    assert payload["uid"] == "f72bf6f7-3d8c-4b31-893b-ef03d4718959"
    assert payload["workflowName"] == "retry-workflow-with-failed-exit-handler"
    assert (payload["phase"], payload["finishedAt"]) == ("Failed", "2024-10-14T09:21:27Z")
    assert payload["message"] == "Error (exit code 1)"
    assert payload["arguments"] == {}
    assert payload["status"] == workflow["status"]


def test_payload_from_workflow_undoes_yaml_datetimes() -> None:
    raw = ROOT / "tests/fixtures/corpus/argo/workflow.failed.dag-disable-fail-fast.yaml"
    payload = payload_from_workflow(yaml.safe_load(raw.read_text()))
    assert payload["finishedAt"] == "2019-06-26T09:12:46Z"
    assert payload["message"] == ""  # the manifest's default for a missing status.message


def test_derived_fixtures_match_what_derive_py_builds() -> None:
    spec = importlib.util.spec_from_file_location("derive", DERIVED / "derive.py")
    assert spec and spec.loader
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    built = derive.build()
    assert sorted(built) == sorted(p.name for p in DERIVED.glob("*.json"))
    for name, doc in built.items():
        assert (DERIVED / name).read_text() == derive.render(doc), name
