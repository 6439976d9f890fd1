"""Who may reach what, in the kustomize builds: the NetworkPolicies select every function's
pods (by labels Knative really puts on them), and every ServiceAccount the Argo Events objects
run as exists with exactly the access it needs."""

from __future__ import annotations

from typing import Any

import pytest

from shared.local.mesh.kustomize import kustomize_build, services
from tests.conftest import ROOT


def _objects(overlay: str, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in kustomize_build(ROOT, overlay) if doc and doc.get("kind") == kind]


def _pod_labels(service: dict[str, Any]) -> dict[str, str]:
    """The labels of a Knative Service's pods: its template's, plus the one Knative adds (a
    Service's own metadata labels are not copied onto its pods)."""
    labels = dict(service["spec"]["template"].get("metadata", {}).get("labels", {}))
    labels["serving.knative.dev/service"] = service["metadata"]["name"]
    return labels


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator == "Exists" and key not in labels:
            return False
        if operator == "In" and labels.get(key) not in expression["values"]:
            return False
    return True


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_every_function_pod_is_under_an_ingress_and_an_egress_policy(overlay: str) -> None:
    policies = _objects(overlay, "NetworkPolicy")
    functions = services(kustomize_build(ROOT, overlay))
    assert functions
    for service in functions:
        applying = [p for p in policies if _selects(p["spec"]["podSelector"], _pod_labels(service))]
        types = {t for p in applying for t in p["spec"]["policyTypes"]}
        assert types == {"Ingress", "Egress"}, service["metadata"]["name"]
    # The database's pods (CNPG instances, the Pooler) are not functions' pods.
    assert not any(
        _selects(p["spec"]["podSelector"], {"cnpg.io/cluster": "codex-judge-db"}) for p in policies
    )


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_argo_events_accounts_exist_with_only_the_access_they_need(overlay: str) -> None:
    accounts = {
        (a["metadata"]["namespace"], a["metadata"]["name"]): a
        for a in _objects(overlay, "ServiceAccount")
    }
    (source,) = _objects(overlay, "EventSource")
    (sensor,) = _objects(overlay, "Sensor")
    watcher = (source["metadata"]["namespace"], source["spec"]["template"]["serviceAccountName"])
    sensor_account = (
        sensor["metadata"]["namespace"],
        sensor["spec"]["template"]["serviceAccountName"],
    )
    assert watcher in accounts and sensor_account in accounts
    assert accounts[sensor_account]["automountServiceAccountToken"] is False

    watched = {r["namespace"] for r in source["spec"]["resource"].values()}
    roles = {
        (r["metadata"]["namespace"], r["metadata"]["name"]): r for r in _objects(overlay, "Role")
    }
    granted: dict[str, list[dict[str, Any]]] = {}
    for binding in _objects(overlay, "RoleBinding"):
        subjects = {(s.get("namespace"), s["name"]) for s in binding["subjects"]}
        if watcher in subjects:
            role = roles[(binding["metadata"]["namespace"], binding["roleRef"]["name"])]
            granted.setdefault(binding["metadata"]["namespace"], []).extend(role["rules"])
        assert sensor_account not in subjects
    assert set(granted) == watched == {"argo"}
    assert granted["argo"] == [
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflows"],
            "verbs": ["get", "list", "watch"],
        }
    ]


@pytest.mark.parametrize(("overlay", "replicas"), [("dev", 1), ("production", 3)])
def test_the_event_bus_is_jetstream_with_the_overlays_replicas(overlay: str, replicas: int) -> None:
    (bus,) = _objects(overlay, "EventBus")
    assert bus["metadata"] == {**bus["metadata"], "name": "default", "namespace": "argo-events"}
    assert bus["spec"]["jetstream"]["replicas"] == replicas
