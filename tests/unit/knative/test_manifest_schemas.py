"""Every object of every overlay build is valid for the cluster, offline: strict JSON Schemas
for every kind (tests/support/k8s_schemas.py) and the Knative rules a schema cannot express
(tests/support/knative_rules.py). Each overlay is rendered once per test session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.local.mesh.kustomize import kustomize_build, overlays
from tests.conftest import ROOT
from tests.support import k8s_schemas, knative_rules
from tests.support.k8s_schemas import Finding

Build = list[dict[str, Any]]


def _object_ids() -> list[tuple[str, int, str]]:
    out = []
    for overlay in overlays(ROOT):
        for index, obj in enumerate(kustomize_build(ROOT, overlay)):
            meta = obj.get("metadata") or {}
            where = f"{meta.get('namespace') or '-'}/{meta.get('name')}"
            out.append((overlay, index, f"{overlay}:{obj.get('kind')}:{where}"))
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "overlay_object" in metafunc.fixturenames:
        ids = _object_ids()
        metafunc.parametrize(
            "overlay_object", [(o, i) for o, i, _ in ids], ids=[label for *_, label in ids]
        )
    if "overlay" in metafunc.fixturenames:
        metafunc.parametrize("overlay", overlays(ROOT))


@pytest.fixture(scope="module")
def builds() -> dict[str, Build]:
    return {overlay: kustomize_build(ROOT, overlay) for overlay in overlays(ROOT)}


def _report(overlay: str, obj: dict[str, Any], found: list[Finding]) -> str:
    meta = obj.get("metadata") or {}
    head = f"overlay {overlay}, {obj.get('kind')} {meta.get('namespace')}/{meta.get('name')}"
    return "\n".join([head, *(f"  {f}" for f in found)])


def _over_build(
    builds: dict[str, Build],
    overlay: str,
    check: Callable[[dict[str, Any], Build], list[Finding]],
    kind: str | None = None,
) -> list[str]:
    build = builds[overlay]
    return [
        _report(overlay, obj, found)
        for obj in build
        if kind is None or obj.get("kind") == kind
        if (found := check(obj, build))
    ]


def _trigger(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": "judge", "namespace": "codex-judge"},
        "spec": {
            "broker": "codex-judge",
            "subscriber": {
                "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "judge"}
            },
            **spec,
        },
    }


# --- JSON Schemas ---------------------------------------------------------------------------


def test_every_object_of_every_overlay_validates_against_its_schema(
    builds: dict[str, Build], overlay_object: tuple[str, int]
) -> None:
    overlay, index = overlay_object
    obj = builds[overlay][index]
    found = k8s_schemas.findings(obj)
    assert not found, _report(overlay, obj, found)


def test_every_overlay_renders_the_kinds_we_deploy(builds: dict[str, Build]) -> None:
    for overlay, build in builds.items():
        kinds = {(o["apiVersion"], o["kind"]) for o in build}
        assert {
            ("v1", "Namespace"),
            ("serving.knative.dev/v1", "Service"),
            ("eventing.knative.dev/v1", "Broker"),
            ("eventing.knative.dev/v1", "Trigger"),
            ("sources.knative.dev/v1", "KafkaSource"),
            ("postgresql.cnpg.io/v1", "Cluster"),
            ("argoproj.io/v1alpha1", "Sensor"),
        } <= kinds, overlay


def test_schema_check_rejects_a_typo_in_a_core_kubernetes_object() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "scheduler", "namespace": "codex-judge"},
        "spec": {"selector": {"app": "scheduler"}, "ports": [{"port": 80, "targetprot": 8080}]},
    }
    found = k8s_schemas.findings(service)
    assert [f.path for f in found] == ["spec.ports[0]"]
    assert "targetprot" in found[0].message


def test_schema_check_rejects_an_unknown_field() -> None:
    trigger = _trigger()
    trigger["spec"]["subscriber"]["ref"]["nmae"] = "typo"
    found = k8s_schemas.findings(trigger)
    assert [f.path for f in found] == ["spec.subscriber.ref"]
    assert "nmae" in found[0].message


def test_schema_check_rejects_an_undocumented_field_under_a_preserved_object() -> None:
    trigger = _trigger(subscrber={"ref": {"kind": "Service", "name": "judge"}})
    assert [f.path for f in k8s_schemas.findings(trigger)] == ["spec.subscrber"]


def test_schema_check_rejects_a_typo_in_custom_resource_metadata() -> None:
    trigger = _trigger()
    trigger["metadata"]["lables"] = {"app": "judge"}
    found = k8s_schemas.findings(trigger)
    assert [f.path for f in found] == ["metadata"]
    assert "lables" in found[0].message


def test_schema_check_rejects_a_typo_in_a_feature_gated_pod_spec_part() -> None:
    service = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "judge", "namespace": "codex-judge"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"image": "codex-judge"}],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimt": "64Mi"}}],
                }
            }
        },
    }
    found = k8s_schemas.findings(service)
    assert [f.path for f in found] == ["spec.template.spec.volumes[0].emptyDir"]


def test_schema_check_rejects_a_typo_in_an_argo_events_sensor() -> None:
    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s", "namespace": "argo-events"},
        "spec": {
            "dependencies": [{"name": "d", "eventSourceName": "e", "eventNmae": "x"}],
            "triggers": [],
        },
    }
    found = k8s_schemas.findings(sensor)
    assert any(f.path == "spec.dependencies[0]" and "eventNmae" in f.message for f in found)


def test_schema_check_fails_on_a_kind_with_no_schema() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(k8s_schemas.MissingSchemaError, match="Widget"):
        k8s_schemas.findings(widget)


# --- Knative rules -------------------------------------------------------------------------


def test_every_trigger_filter_expression_sets_exactly_one_dialect(
    builds: dict[str, Build], overlay: str
) -> None:
    check = lambda obj, _: knative_rules.filter_findings(obj)  # noqa: E731
    failures = _over_build(builds, overlay, check, "Trigger")
    assert not failures, "\n".join(failures)


def test_filter_check_rejects_two_dialects_in_one_expression() -> None:
    trigger = _trigger(
        filters=[
            {
                "any": [
                    {"exact": {"type": "a"}, "prefix": {"type": "b"}},
                    {"not": {"suffix": {"source": ".x", "type": ".y"}}},
                ]
            }
        ]
    )
    assert [f.path for f in knative_rules.filter_findings(trigger)] == [
        "spec.filters[0].any[0]",
        "spec.filters[0].any[1].not.suffix",
    ]


def test_every_delivery_duration_parses_and_retries_at_least_once(
    builds: dict[str, Build], overlay: str
) -> None:
    check = lambda obj, _: knative_rules.delivery_findings(obj)  # noqa: E731
    failures = _over_build(builds, overlay, check)
    assert not failures, "\n".join(failures)


def test_delivery_check_rejects_a_duration_without_a_unit_and_zero_retries() -> None:
    trigger = _trigger(delivery={"retry": 0, "backoffDelay": "PT5", "timeout": "PT30S"})
    assert [f.path for f in knative_rules.delivery_findings(trigger)] == [
        "spec.delivery.backoffDelay",
        "spec.delivery.retry",
    ]


def test_every_destination_ref_resolves_to_an_object_of_the_build(
    builds: dict[str, Build], overlay: str
) -> None:
    failures = _over_build(builds, overlay, knative_rules.reference_findings)
    assert not failures, "\n".join(failures)


def test_reference_check_rejects_a_ref_to_a_missing_or_foreign_object(
    builds: dict[str, Build],
) -> None:
    build = next(iter(builds.values()))
    trigger = _trigger(
        delivery={
            "deadLetterSink": {
                "ref": {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Service",
                    "name": "dead-letter",
                    "namespace": "elsewhere",
                }
            }
        }
    )
    trigger["spec"]["subscriber"]["ref"]["name"] = "judgee"
    assert [f.path for f in knative_rules.reference_findings(trigger, build)] == [
        "spec.subscriber.ref",
        "spec.delivery.deadLetterSink.ref",
    ]


def test_every_trigger_names_the_broker_of_the_build(
    builds: dict[str, Build], overlay: str
) -> None:
    failures = _over_build(builds, overlay, knative_rules.broker_findings, "Trigger")
    assert not failures, "\n".join(failures)


def test_broker_check_rejects_a_trigger_on_another_broker(builds: dict[str, Build]) -> None:
    build = next(iter(builds.values()))
    assert knative_rules.broker_findings(_trigger(), build) == []
    moved = _trigger(broker="default")
    assert [f.path for f in knative_rules.broker_findings(moved, build)] == ["spec.broker"]
