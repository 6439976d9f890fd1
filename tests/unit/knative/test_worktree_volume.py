"""The judge's worktree snapshots have their ephemeral volume in every overlay (issue 13): an
emptyDir with a size limit, mounted where ``CODEX_JUDGE_WORKTREE_DIR`` points, larger than the
snapshot's own byte cap (so git stops before the kubelet evicts the pod), and a git time limit
inside the Service's request timeout; only the judge carries it."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from shared.local.mesh.kustomize import kustomize_build, overlays, services
from tests.conftest import ROOT

# Kubernetes resource quantities: the binary suffixes (k8s.io/apimachinery resource.Quantity).
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def parse_quantity(text: str) -> int:
    """Bytes of a quantity such as ``2Gi`` or ``1048576``."""
    suffix = text[-2:]
    return int(text[:-2]) * _BINARY[suffix] if suffix in _BINARY else int(text)


@cache
def _services(overlay: str) -> dict[str, dict[str, Any]]:
    return {s["metadata"]["name"]: s for s in services(kustomize_build(ROOT, overlay))}


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env") or []}


@pytest.mark.parametrize("overlay", overlays(ROOT))
def test_the_judge_snapshots_into_a_size_limited_empty_dir(overlay: str) -> None:
    spec = _services(overlay)["judge"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = _env(container)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volume = volumes[mounts[env["CODEX_JUDGE_WORKTREE_DIR"]]]
    limit = parse_quantity(volume["emptyDir"]["sizeLimit"])
    assert limit > int(env["CODEX_JUDGE_WORKTREE_MAX_BYTES"])
    assert float(env["CODEX_JUDGE_WORKTREE_TIMEOUT_S"]) < spec["timeoutSeconds"]
    assert {"tmp", "secrets"} <= set(volumes)  # appended to the common pod's volumes


@pytest.mark.parametrize("overlay", overlays(ROOT))
def test_no_other_function_gets_the_worktree_volume(overlay: str) -> None:
    for name, service in _services(overlay).items():
        spec = service["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        has = "CODEX_JUDGE_WORKTREE_DIR" in _env(container) or any(
            v["name"] == "worktrees" for v in spec.get("volumes") or []
        )
        assert has == (name == "judge"), name
