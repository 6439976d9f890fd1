"""Parsing Argo completions in all their real shapes (corpus/argo and tests/fixtures/argo)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from shared.argo import (
    UnfinishedWorkflow,
    WorkflowCompletion,
    load_document,
    parse_completion,
    payload_from_workflow,
)
from shared.errors import InvalidDataError

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
CORPUS = sorted((FIXTURES / "corpus" / "argo").glob("*.yaml"))
FINISHED = [p for p in CORPUS if ".running." not in p.name]


def _shapes(raw: bytes) -> dict[str, bytes]:
    """The same workflow as each accepted carrier."""
    workflow = load_document(raw)
    payload = payload_from_workflow(workflow)
    stringified = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in payload.items()}
    resource_event = {"type": "UPDATE", "body": workflow}
    return {
        "workflow-yaml": raw,
        "workflow-json": json.dumps(workflow).encode(),
        "sensor-payload": json.dumps(payload).encode(),
        "sensor-payload-json-strings": json.dumps(stringified).encode(),
        "eventBody-base64": json.dumps(
            {"eventBody": base64.b64encode(json.dumps(payload).encode()).decode()}
        ).encode(),
        "rawEvent-base64-yaml": json.dumps({"rawEvent": base64.b64encode(raw).decode()}).encode(),
        "resource-event-body": json.dumps(resource_event).encode(),
        "eventbus-data": json.dumps(
            {
                "context": {"type": "resource"},
                "data": base64.b64encode(json.dumps(resource_event).encode()).decode(),
            }
        ).encode(),
    }


@pytest.mark.parametrize("path", FINISHED, ids=lambda p: p.name)
def test_every_shape_of_a_finished_corpus_workflow_parses_to_the_same_completion(path) -> None:
    raw = path.read_bytes()
    results = {name: parse_completion(data) for name, data in _shapes(raw).items()}
    reference = results["workflow-yaml"]
    assert isinstance(reference, WorkflowCompletion)
    for name, result in results.items():
        assert result == reference, name
    workflow = load_document(raw)
    assert reference.uid == workflow["metadata"]["uid"]
    assert reference.phase == workflow["status"]["phase"]
    assert reference.finished_at == workflow["status"]["finishedAt"]


def test_unquoted_yaml_timestamps_are_kept_exactly_as_sent() -> None:
    raw = (FIXTURES / "corpus/argo/workflow.failed.dag-disable-fail-fast.yaml").read_bytes()
    completion = parse_completion(raw)
    assert isinstance(completion, WorkflowCompletion)
    assert completion.finished_at == "2019-06-26T09:12:46Z"
    assert completion.started_at == "2019-06-26T09:11:58Z"
    assert completion.completion_key == (
        "734516b5-97f2-11e9-9fea-00163e00cf4e:Failed:2019-06-26T09:12:46Z"
    )


@pytest.mark.parametrize("shape", list(_shapes(b"x: 1").keys()))
def test_running_workflow_is_not_a_completion_in_any_shape(shape) -> None:
    raw = (FIXTURES / "corpus/argo/workflow.running.dag-exhausted-retries.yaml").read_bytes()
    result = parse_completion(_shapes(raw)[shape])
    assert isinstance(result, UnfinishedWorkflow)
    assert result.phase == "Running"
    assert "Running" in result.note()


def test_key_only_s3_artifacts_fall_back_to_the_repository_bucket_and_endpoint() -> None:
    raw = (FIXTURES / "corpus/argo/workflow.succeeded.artgc-mixed-s3.yaml").read_bytes()
    completion = parse_completion(raw)
    assert isinstance(completion, WorkflowCompletion)
    by_name = {a.name: a for a in completion.artifacts}
    assert set(by_name) == {
        "first-on-completion-1",
        "first-on-completion-2",
        "main-logs",
        "on-deletion",
        "second-on-completion",
    }
    assert by_name["on-deletion"].bucket == "my-bucket"  # from artifactRepositoryRef
    assert by_name["on-deletion"].endpoint == "minio:9000"
    assert by_name["on-deletion"].url == "s3://my-bucket/on-deletion"
    assert by_name["first-on-completion-1"].bucket == "my-bucket-2"  # its own bucket wins
    assert by_name["main-logs"].node_id == "two-artgc-8tcvt-802059674"


def test_artifacts_with_the_same_name_on_several_nodes_get_unique_names() -> None:
    raw = (FIXTURES / "corpus/argo/workflow.failed.onexit-s3-keys.yaml").read_bytes()
    completion = parse_completion(raw)
    assert isinstance(completion, WorkflowCompletion)
    names = [a.name for a in completion.artifacts]
    assert names == [
        "retry-workflow-with-failed-exit-handler/main-logs",
        "retry-workflow-with-failed-exit-handler-512308683/main-logs",
    ]
    assert {a.artifact_name for a in completion.artifacts} == {"main-logs"}
    assert all(a.bucket == "my-bucket" for a in completion.artifacts)


def test_nested_dag_yields_one_artifact_per_pod_node() -> None:
    raw = (FIXTURES / "corpus/argo/workflow.succeeded.nested-dag-21-nodes.yaml").read_bytes()
    completion = parse_completion(raw)
    assert isinstance(completion, WorkflowCompletion)
    assert len(completion.artifacts) == 16
    assert len({a.name for a in completion.artifacts}) == 16


def test_workflow_parameters_are_read_as_name_to_value() -> None:
    raw = (FIXTURES / "corpus/argo/workflow.succeeded.subdag-params-s3.yaml").read_bytes()
    completion = parse_completion(raw)
    assert isinstance(completion, WorkflowCompletion)
    assert completion.parameters == {"msgs": '["foo","bar","baz"]'}
    assert completion.labels["default-label"] == "thisLabelIsFromWorkflowDefaults"


def test_failed_workflow_keeps_its_message() -> None:
    raw = (FIXTURES / "corpus/argo/workflow.failed.onexit-s3-keys.yaml").read_bytes()
    completion = parse_completion(raw)
    assert isinstance(completion, WorkflowCompletion)
    assert (completion.phase, completion.message) == ("Failed", "Error (exit code 1)")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "data"),
        (b"\xff\xfe not text", "data"),
        (b"{not json: [", "data"),
        (b"just some words", "data"),
        (b"[1, 2, 3]", "data"),
        (b'{"not": "a workflow"}', "data.metadata.uid"),
        (b'{"metadata": {"name": "x"}, "status": {"phase": "Succeeded"}}', "data.metadata.uid"),
        (b'{"uid": "u1", "phase": "Succeeded", "metadata": [1]}', "data.metadata"),
        (b'{"uid": "u1", "phase": "Succeeded", "status": "not json"}', "data.status"),
        (
            b'{"body": {"metadata": {"uid": "u"}, "status": {"phase": "Failed", "nodes": []}, '
            b'"spec": {"arguments": {"parameters": {"a": 1}}}}}',
            "data.body.spec.arguments.parameters",
        ),
    ],
)
def test_garbage_is_rejected_naming_the_field(data: bytes, field: str) -> None:
    with pytest.raises(InvalidDataError) as caught:
        parse_completion(data)
    assert caught.value.field == field
    assert caught.value.status == 422
