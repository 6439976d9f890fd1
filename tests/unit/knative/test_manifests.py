"""The deployable manifests, as the kustomize build of every overlay renders them: valid
against the CRD schemas, wired to each other, scale-to-zero, every publisher bound to a sink,
and free of reply loops (the Kafka broker has no loop protection)."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.local.mesh import filters
from shared.local.mesh.kustomize import kustomize_build, overlays, services, sink_of
from shared.local.mesh.manifests import (
    Manifests,
    Service,
    Trigger,
    load_manifests,
    parse_documents,
)
from tests.conftest import ROOT

NAMESPACE = "codex-judge"
IMAGE = "ghcr.io/codex-judge/codex-judge"
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
    "scheduler",
    "api",
]
KAFKA_SOURCE = (
    "/apis/v1/namespaces/codex-judge/kafkasources/argo-workflow-completions"
    "#argo.workflows.completions"
)
# What a function calls to publish to K_SINK (so its Service needs a SinkBinding): the
# container's Broker port (any ``<container>.broker()``), and the shared tick that uses it.
BROKER_METHOD = "broker"
PUBLISHING_CALLS = {
    ("shared.waits.reconcile", "run_tick"),
    # A gate's tick (ci-status, review-gate) runs run_tick (shared/waits/gate.py).
    ("shared.waits.gate", "GateWait"),
    # The operator actions publish what they decide (shared/operator/sink.py).
    ("shared.operator.actions", "act"),
}


@cache
def _build(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize_build(ROOT, overlay))


def _documents(overlay: str = "dev") -> list[tuple[Path, dict[str, Any]]]:
    where = Path("knative/overlays") / overlay
    return [(where, json.loads(json.dumps(doc))) for doc in _build(overlay)]


def _objects(kind: str, overlay: str = "dev") -> Iterator[dict[str, Any]]:
    return (doc for _, doc in _documents(overlay) if doc.get("kind") == kind)


@pytest.fixture(scope="module")
def manifests() -> Manifests:
    return load_manifests(ROOT)


def _kustomized_files(folder: Path, seen: set[Path]) -> set[Path]:
    """Every file a kustomization in ``folder`` uses (resources, patches), recursively."""
    folder = folder.resolve()
    if folder in seen:
        return set()
    seen.add(folder)
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    used = {folder / "kustomization.yaml"}
    entries = [*kustomization.get("resources", [])]
    entries += [p["path"] for p in kustomization.get("patches", []) if "path" in p]
    for entry in entries:
        target = (folder / entry).resolve()
        assert target.exists(), f"{folder / 'kustomization.yaml'} lists missing {entry}"
        used |= _kustomized_files(target, seen) if target.is_dir() else {target}
    return used


def test_every_manifest_file_is_used_by_an_overlay() -> None:
    seen: set[Path] = set()
    used: set[Path] = set()
    for overlay in overlays(ROOT):
        used |= _kustomized_files(ROOT / "knative" / "overlays" / overlay, seen)
    files = {
        p.resolve()
        for folder in ("knative", "triggers")
        for p in (ROOT / folder).rglob("*.yaml")
        if "examples" not in p.relative_to(ROOT).parts  # documented, applied by hand
    }
    assert files - used == set()
    assert overlays(ROOT) == ["dev", "production"]


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_every_function_runs_the_one_image_as_its_container_command(overlay: str) -> None:
    found = {doc["metadata"]["name"]: doc for doc in services(_build(overlay))}
    assert sorted(found) == sorted(FUNCTIONS)
    for name, doc in found.items():
        assert doc["metadata"]["namespace"] == NAMESPACE
        assert "codex-judge.io/replies" in doc["metadata"]["annotations"], name
        template = doc["spec"]["template"]
        (container,) = template["spec"]["containers"]
        assert container["image"].startswith(IMAGE + ":"), name
        assert container["command"] == ["codex-judge", "serve"], name
        env = {e["name"]: e.get("value") for e in container["env"]}
        source = env["FUNCTION_SOURCE"]
        assert source == f"functions/{name.replace('-', '_')}/main.py", name
        assert (ROOT / source).is_file(), name
        assert (env["FUNCTION_TARGET"], env["FUNCTION_SIGNATURE_TYPE"]) == ("handle", "http")
        assert template["spec"]["containerConcurrency"] == int(env["WORKERS"]) * int(env["THREADS"])
        assert template["spec"]["serviceAccountName"] == "codex-judge-function"
        assert template["spec"]["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"], name
        assert security["capabilities"]["drop"] == ["ALL"], name
        assert security["seccompProfile"]["type"] == "RuntimeDefault", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz", name


def test_only_the_public_webhook_receiver_stays_warm_and_everything_else_scales_to_zero() -> None:
    scale = {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["annotations"][
            "autoscaling.knative.dev/min-scale"
        ]
        for doc in _objects("Service")
    }
    # GitHub waits 10 s for an answer and never redelivers by itself: no cold start there.
    assert {name for name, value in scale.items() if value != "0"} == {"github-webhook"}


def test_only_the_github_webhook_is_reachable_from_outside_the_cluster() -> None:
    public = [
        doc["metadata"]["name"]
        for doc in _objects("Service")
        if doc["metadata"]["labels"].get("networking.knative.dev/visibility") != "cluster-local"
    ]
    assert public == ["github-webhook"]


def test_every_trigger_and_kafka_source_declares_delivery_with_a_dead_letter_sink() -> None:
    (broker,) = _objects("Broker")
    sink = broker["spec"]["delivery"]["deadLetterSink"]
    docs = [*_objects("Trigger"), *_objects("KafkaSource")]
    for doc in docs:
        delivery = doc["spec"]["delivery"]
        name = doc["metadata"]["name"]
        assert delivery["retry"] >= 3, name
        assert delivery["backoffDelay"].startswith("PT"), name
        assert delivery["timeout"].startswith("PT"), name
        if doc["kind"] == "Trigger":  # the same dead-letter path as the Broker's default
            assert delivery["deadLetterSink"] == sink, name


def test_sources_sink_into_the_kafka_broker_or_a_function_that_replies_nothing(
    manifests: Manifests,
) -> None:
    (broker_doc,) = _objects("Broker")
    assert broker_doc["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Kafka"
    broker = manifests.broker("codex-judge")
    assert broker.namespace == NAMESPACE
    topics = {k.name: k.topics for k in manifests.kafka_sources}
    assert topics["argo-workflow-completions"] == ["argo.workflows.completions"]
    assert topics["github-events"] == ["github.webhooks"]
    (ping,) = manifests.ping_sources
    assert (ping.name, ping.schedule) == ("tick", "* * * * *")
    replies = {s.name: s.replies for s in manifests.services}
    for source, sink in [
        *((k.name, k.sink) for k in manifests.kafka_sources),
        (ping.name, ping.sink),
    ]:
        assert sink.ref is not None, source
        # A source discards replies (DESIGN §2): only a function with nothing to reply may
        # take a source directly.
        if sink.ref.kind != "Broker":
            assert (sink.ref.kind, replies.get(sink.ref.name)) == ("Service", ()), source
        else:
            assert sink.ref.name == "codex-judge", source


def _module_file(module: str) -> Path | None:
    path = ROOT / Path(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _publishing_calls(path: Path) -> tuple[list[str], set[str]]:
    """``(the file:line of every call of a PUBLISHING_CALLS function or of ``.broker()``,
    the functions.* modules this file imports)``, read with ``ast`` (names resolved through
    the imports)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: dict[str, tuple[str, str]] = {}  # local name -> (module, attribute or "")
    imports: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = (node.module, alias.name)
                imports.add(f"{node.module}.{alias.name}")
                imports.add(node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name] = (alias.name, "")
                imports.add(alias.name)
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        target: tuple[str, str] | None = None
        if isinstance(func, ast.Name) and func.id in names:
            target = names[func.id]
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            module, attribute = names.get(func.value.id, ("", ""))
            target = (f"{module}.{attribute}" if attribute else module, func.attr)
        if target in PUBLISHING_CALLS or (
            isinstance(func, ast.Attribute) and func.attr == BROKER_METHOD and not node.args
        ):
            calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return calls, {m for m in imports if m.startswith("functions.")}


def publishers_from_code() -> dict[str, list[str]]:
    """Function package → where it publishes to K_SINK, following its functions.* imports."""
    found: dict[str, list[str]] = {}
    for main in sorted((ROOT / "functions").glob("*/main.py")):
        queue, seen, calls = [main], set(), []
        while queue:
            path = queue.pop()
            if path in seen:
                continue
            seen.add(path)
            more, imported = _publishing_calls(path)
            calls += more
            queue += [f for f in map(_module_file, imported) if f is not None]
            queue += [p for p in path.parent.glob("*.py") if path.parent != ROOT / "functions"]
        if calls:
            found[main.parent.name] = sorted(set(calls))
    return found


def unbound_publishers(objects: list[dict[str, Any]]) -> list[str]:
    """Services whose function publishes to K_SINK but that no SinkBinding selects, and
    Services bound to a sink whose function never publishes."""
    publishers = publishers_from_code()
    problems = []
    for service in services(objects):
        name = service["metadata"]["name"]
        bound = sink_of(service, objects) is not None
        package = name.replace("-", "_")
        if package in publishers and not bound:
            problems.append(f"{name} publishes ({publishers[package][0]}) but has no sink")
        if bound and package not in publishers:
            problems.append(f"{name} has a sink but never publishes")
    return problems


def test_publishers_are_found_in_the_code() -> None:
    assert sorted(publishers_from_code()) == [
        "api",
        "ci_status",
        "deploy",
        "github_webhook",
        "judge",
        "merge",
        "rerun",
        "review_gate",
        "scheduler",
    ]


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_every_publisher_has_a_sink_binding_and_only_publishers_do(overlay: str) -> None:
    assert unbound_publishers(list(_build(overlay))) == []


def test_the_sink_check_fails_when_a_service_loses_its_binding() -> None:
    objects = [json.loads(json.dumps(o)) for o in _build("dev")]
    judge = next(o for o in services(objects) if o["metadata"]["name"] == "judge")
    del judge["metadata"]["labels"]["codex-judge.io/publishes"]
    (problem,) = unbound_publishers(objects)
    assert problem.startswith("judge publishes (functions/judge/tick.py:")
    assert problem.endswith("but has no sink")
    without_bindings = [o for o in objects if o.get("kind") != "SinkBinding"]
    assert len(unbound_publishers(without_bindings)) == len(publishers_from_code())


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
        # The tick wakes the scheduler alone; it wakes each timer owner with work by name.
        (
            _event("dev.knative.sources.ping", "/apis/v1/namespaces/codex-judge/pingsources/tick"),
            ["scheduler"],
        ),
        *(
            (
                {
                    **_event("io.codexjudge.timers.due.v1", "/codex-judge/scheduler"),
                    "timerowner": o,
                },
                [o],
            )
            for o in (
                "ci-status",
                "review-gate",
                "judge",
                "deploy",
                "rerun",
                "merge",
                "prompt-tune",
            )
        ),
        (
            {**_event("io.codexjudge.timers.due.v1"), "timerowner": "memories"},
            [],
        ),
        (_event("io.codexjudge.timers.due.v1"), []),
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
        "scheduler",
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
