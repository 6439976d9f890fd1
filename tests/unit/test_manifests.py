"""The deployable manifests in knative/ and triggers/: valid against the CRD schemas, wired to
each other, scale-to-zero, and free of reply loops (the Kafka broker has no loop protection)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.mesh import filters
from shared.mesh.manifests import (
    Manifests,
    Service,
    Trigger,
    load_manifests,
    manifest_files,
    parse_documents,
    read_documents,
)
from tests.conftest import FIXTURES, ROOT

SCHEMAS = FIXTURES / "k8s-schemas"
NAMESPACE = "codex-judge"
FUNCTIONS = [
    "run-complete",
    "notify",
    "github-webhook",
    "ci-status",
    "review-gate",
    "judge",
    "discord",
    "merge",
    "deploy",
    "memories",
    "rerun",
    "prompt-tune",
    "dead-letter",
]
# Kinds with no schema in tests/fixtures/k8s-schemas: core objects, kustomize and Argo Events
# (whose catalog schemas are empty stubs). They get the basic shape check only.
UNSCHEMATISED = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
    ("argoproj.io/v1alpha1", "EventSource"),
    ("argoproj.io/v1alpha1", "Sensor"),
}
KAFKA_SOURCE = (
    "/apis/v1/namespaces/codex-judge/kafkasources/argo-workflow-completions"
    "#argo.workflows.completions"
)


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    return list(read_documents(manifest_files(ROOT)))


def _without_closed_preserved_objects(node: Any) -> Any:
    """Honour ``x-kubernetes-preserve-unknown-fields``: the catalog's converter added
    ``additionalProperties: false`` everywhere, but the API server keeps unknown fields where
    the CRD preserves them (e.g. ``delivery.timeout`` on Broker and Trigger)."""
    if isinstance(node, dict):
        out = {k: _without_closed_preserved_objects(v) for k, v in node.items()}
        if (
            out.get("x-kubernetes-preserve-unknown-fields")
            and out.get("additionalProperties") is False
        ):
            del out["additionalProperties"]
        return out
    if isinstance(node, list):
        return [_without_closed_preserved_objects(v) for v in node]
    return node


@cache
def _schema(api_version: str, kind: str) -> dict[str, Any] | None:
    group, _, version = api_version.rpartition("/")
    path = SCHEMAS / group / f"{kind.lower()}_{version}.json"
    if not group or not path.exists():
        return None
    return dict(_without_closed_preserved_objects(json.loads(path.read_text())))


def _objects(kind: str) -> Iterator[dict[str, Any]]:
    return (doc for _, doc in _documents() if doc.get("kind") == kind)


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    return load_manifests(ROOT)


def test_every_manifest_validates_against_its_crd_schema() -> None:
    docs = _documents()
    assert len(docs) >= 15
    for path, doc in docs:
        api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
        schema = _schema(api_version, kind)
        where = f"{path.relative_to(ROOT)}: {kind} {doc.get('metadata', {}).get('name')}"
        if schema is None:
            assert (api_version, kind) in UNSCHEMATISED, f"{where}: no schema for {api_version}"
            assert kind == "Kustomization" or doc["metadata"]["name"], where
            continue
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
        assert not errors, f"{where}: {[f'{list(e.path)}: {e.message}' for e in errors]}"


def test_schema_check_rejects_an_unknown_field() -> None:
    schema = _schema("eventing.knative.dev/v1", "Trigger")
    assert schema is not None
    doc = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "spec": {
            "broker": "codex-judge",
            "subscriber": {"ref": {"kind": "Service", "name": "judge", "nmae": "typo"}},
        },
    }
    assert list(jsonschema.Draft7Validator(schema).iter_errors(doc))


def test_kustomizations_list_every_manifest_file_exactly() -> None:
    listed: set[Path] = set()
    for folder in ("knative", "triggers"):
        kustomization = next(read_documents([ROOT / folder / "kustomization.yaml"]))[1]
        for entry in kustomization["resources"]:
            target = (ROOT / folder / entry).resolve()
            assert target.exists(), f"{folder}/kustomization.yaml lists missing {entry}"
            if target.is_file():
                listed.add(target)
    files = {p.resolve() for p in manifest_files(ROOT) if p.name != "kustomization.yaml"}
    assert files == listed


def test_every_function_is_a_scale_to_zero_service_with_matching_concurrency() -> None:
    services = {doc["metadata"]["name"]: doc for doc in _objects("Service")}
    assert sorted(services) == sorted(FUNCTIONS)
    for name, doc in services.items():
        assert doc["metadata"]["namespace"] == NAMESPACE
        assert "codex-judge.io/replies" in doc["metadata"]["annotations"], name
        template = doc["spec"]["template"]
        assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "0"
        (container,) = template["spec"]["containers"]
        assert container["image"] == f"ghcr.io/codex-judge/{name}"
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["FUNCTION_TARGET"] == "handle"
        assert template["spec"]["containerConcurrency"] == int(env["WORKERS"]) * int(env["THREADS"])


def test_only_the_github_webhook_is_reachable_from_outside_the_cluster() -> None:
    public = [
        doc["metadata"]["name"]
        for doc in _objects("Service")
        if doc["metadata"]["labels"].get("networking.knative.dev/visibility") != "cluster-local"
    ]
    assert public == ["github-webhook"]


def test_every_trigger_and_kafka_source_declares_delivery_to_the_dead_letter_service() -> None:
    docs = [*_objects("Trigger"), *_objects("KafkaSource"), *_objects("Broker")]
    assert len(docs) == 14  # every Trigger, KafkaSource and the Broker
    for doc in docs:
        delivery = doc["spec"]["delivery"]
        name = doc["metadata"]["name"]
        assert delivery["retry"] >= 3, name
        assert delivery["backoffPolicy"] == "exponential", name
        assert delivery["backoffDelay"].startswith("PT"), name
        assert delivery["timeout"].startswith("PT"), name
        assert delivery["deadLetterSink"]["ref"] == {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "name": "dead-letter",
            "namespace": NAMESPACE,
        }, name


def test_sources_sink_into_the_kafka_broker_never_into_a_function(manifests: Manifests) -> None:
    (broker_doc,) = _objects("Broker")
    assert broker_doc["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Kafka"
    broker = manifests.broker("codex-judge")
    assert broker.namespace == NAMESPACE
    kafkas = sorted(manifests.kafka_sources, key=lambda k: k.name)
    assert [(k.name, k.topics) for k in kafkas] == [
        ("argo-workflow-completions", ["argo.workflows.completions"]),
        ("github-events", ["github.webhooks"]),
    ]
    (ping,) = manifests.ping_sources
    assert (ping.name, ping.schedule) == ("tick", "* * * * *")
    for sink in (*(k.sink for k in kafkas), ping.sink):
        assert sink.ref is not None
        assert (sink.ref.kind, sink.ref.name) == ("Broker", "codex-judge")


def _event(type_: str, source: str = "/codex-judge/test") -> dict[str, str]:
    return {"specversion": "1.0", "id": "1", "type": type_, "source": source}


def _subscribers(manifests: Manifests, event: dict[str, str]) -> list[str]:
    return sorted(
        t.subscriber.ref.name
        for t in manifests.triggers
        if t.subscriber.ref and filters.trigger_matches(t.attributes, t.filters, event)
    )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_event("dev.knative.kafka.event", KAFKA_SOURCE), ["run-complete"]),
        (
            _event(
                "dev.knative.kafka.event",
                "/apis/v1/namespaces/codex-judge/kafkasources/other#github.events",
            ),
            [],
        ),
        (_event("io.codexjudge.run.completed.v1"), ["ci-status", "judge", "review-gate"]),
        (_event("com.github.check_run.completed"), ["ci-status"]),
        (_event("com.github.check_suite.completed"), ["ci-status"]),
        (_event("com.github.status"), ["ci-status"]),
        (_event("com.github.workflow_run.completed"), ["ci-status"]),
        (_event("com.github.pull_request_review.submitted"), ["review-gate"]),
        (_event("com.github.pull_request_review_thread.resolved"), ["review-gate"]),
        (_event("com.github.pull_request_review_comment.created"), ["review-gate"]),
        (_event("com.github.issue_comment.created"), ["review-gate"]),
        (_event("com.github.pull_request.synchronize"), ["ci-status", "review-gate"]),
        (
            _event(
                "dev.knative.kafka.event",
                "/apis/v1/namespaces/codex-judge/kafkasources/github-events#github.webhooks",
            ),
            ["github-webhook"],
        ),
        (_event("io.codexjudge.ci.concluded.v1"), ["judge"]),
        (_event("io.codexjudge.review.concluded.v1"), ["judge"]),
        (_event("io.codexjudge.judge.decided.v1"), ["discord", "memories"]),
        (
            {**_event("io.codexjudge.judge.decided.v1"), "decision": "pass"},
            ["discord", "memories", "merge"],
        ),
        (_event("io.codexjudge.verification.completed.v1"), ["deploy"]),
        (
            {**_event("io.codexjudge.judge.decided.v1"), "decision": "needs_iteration"},
            ["discord", "memories", "prompt-tune", "rerun"],
        ),
        (
            {**_event("io.codexjudge.judge.decided.v1"), "decision": "needs_human"},
            ["discord", "memories", "prompt-tune"],
        ),
        (_event("io.codexjudge.run.escalated.v1"), ["discord"]),
        (_event("io.codexjudge.deploy.failed.v1"), ["discord"]),
        (_event("com.github.push"), []),
        (
            _event("dev.knative.sources.ping", "/apis/v1/namespaces/codex-judge/pingsources/tick"),
            ["ci-status", "deploy", "judge", "rerun", "review-gate"],
        ),
    ],
)
def test_triggers_route_each_event_type_to_its_subscribers(
    manifests: Manifests, event: dict[str, str], expected: list[str]
) -> None:
    assert _subscribers(manifests, event) == expected


def _reply_probes(pattern: str, triggers: list[Trigger]) -> set[str]:
    """Concrete types for a ``replies`` entry. A glob (``com.github.*``) expands to the bare
    prefix, every exact or prefix ``type`` a Trigger mentions under it, and those joined with
    every ``suffix`` a Trigger mentions: enough to hit any exact/prefix/suffix filter."""
    if not pattern.endswith("*"):
        return {pattern}
    prefix = pattern[:-1]
    by_dialect: dict[str, set[str]] = {"exact": set(), "prefix": set(), "suffix": set()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in by_dialect and isinstance(value, dict) and "type" in value:
                    by_dialect[key].add(value["type"])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for trigger in triggers:
        walk(trigger.filters)
        if "type" in trigger.attributes:
            by_dialect["exact"].add(trigger.attributes["type"])
    heads = {prefix} | {
        v for v in by_dialect["exact"] | by_dialect["prefix"] if v.startswith(prefix)
    }
    return heads | {head + tail for head in heads for tail in by_dialect["suffix"]}


def reply_loops(manifests: Manifests) -> list[str]:
    """Every (Service, reply type) whose reply its own Trigger would deliver back to it."""
    services: dict[str, Service] = {s.name: s for s in manifests.services}
    loops = []
    for trigger in manifests.triggers:
        ref = trigger.subscriber.ref
        if ref is None or ref.kind != "Service" or ref.name not in services:
            continue
        for pattern in services[ref.name].replies:
            for probe in sorted(_reply_probes(pattern, manifests.triggers)):
                event = _event(probe, source=f"/codex-judge/{ref.name}")
                if filters.trigger_matches(trigger.attributes, trigger.filters, event):
                    loops.append(
                        f"{ref.name} replies {probe}, which its Trigger {trigger.name} matches"
                    )
    return loops


def test_no_function_reply_matches_its_own_trigger(manifests: Manifests) -> None:
    assert {s.name for s in manifests.services if s.replies} == {
        "run-complete",
        "github-webhook",
        "ci-status",
        "review-gate",
        "judge",
        "merge",
        "deploy",
        "rerun",
    }
    assert reply_loops(manifests) == []


def test_reply_loop_check_catches_a_trigger_that_matches_its_own_reply() -> None:
    docs = [(path, doc) for path, doc in _documents()]
    judge = next(
        doc
        for _, doc in docs
        if doc.get("kind") == "Trigger" and doc["metadata"]["name"] == "judge"
    )
    looping = json.loads(json.dumps(judge))
    looping["spec"]["filters"][0]["any"].append({"prefix": {"type": "io.codexjudge.judge."}})
    github = {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "echo", "namespace": NAMESPACE},
        "spec": {
            "broker": "codex-judge",
            "filters": [{"suffix": {"type": ".created"}}],
            "subscriber": {"ref": {"kind": "Service", "name": "github-webhook"}},
        },
    }
    broken = parse_documents(
        [(p, looping if d is judge else d) for p, d in docs] + [(Path("echo.yaml"), github)]
    )
    loops = reply_loops(broken)
    assert any(loop.startswith("judge replies io.codexjudge.judge.decided.v1") for loop in loops)
    assert any(
        loop.startswith("github-webhook replies com.github.")
        and loop.endswith("Trigger echo matches")
        for loop in loops
    )
