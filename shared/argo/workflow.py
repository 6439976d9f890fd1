"""Argo workflows as the use cases handle them, whoever talks to the Argo Server: deterministic
workflow names, the failed steps of a workflow, and what a submission answered.

Names: a Kubernetes object name is a DNS-1123 subdomain; Argo's pod names derive from the
workflow's, so names here are DNS-1123 labels (63 characters). A submission under a
deterministic name (:func:`workflow_name`, from the effect's idempotency key) is idempotent: a
repeat is refused with ``AlreadyExists`` and the existing workflow is answered instead
(:class:`shared.ports.Argo`, issue 10).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.argo.model import FINISHED_PHASES

__all__ = ["FINISHED_PHASES", "MAX_NAME", "SubmittedWorkflow", "failed_steps", "workflow_name"]

#: Kubernetes object names are DNS-1123 subdomains; Argo's pod names derive from the workflow's,
#: so keep it a DNS-1123 label (63 characters).
MAX_NAME = 63
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


class SubmittedWorkflow(BaseModel):
    """What Argo answered for a submission: the created Workflow's identity and phase."""

    model_config = ConfigDict(frozen=True)

    name: str
    namespace: str
    uid: str | None = None
    phase: str | None = None


def workflow_name(prefix: str, key: str) -> str:
    """A deterministic DNS-1123 workflow name ``<prefix>-<12 hex of sha256(key)>``, ≤ 63 chars.

    ``prefix`` is lower-cased, runs of other characters become ``-`` and it is cut so the whole
    name fits :data:`MAX_NAME`; the same ``key`` always gives the same name.
    """
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    clean = _NOT_DNS.sub("-", prefix.lower()).strip("-")[: MAX_NAME - len(digest) - 1]
    clean = clean.rstrip("-") or "wf"
    return f"{clean}-{digest}"


def failed_steps(workflow: dict[str, Any]) -> list[str]:
    """Display names of the failed steps of a Workflow object (``status.nodes``), in order.

    A failed ``Retry`` node stands for its attempts (``C`` rather than ``C(0)``, ``C(1)``);
    other failed ``Pod`` nodes are named as they are. DAG/Steps nodes are containers, not
    tests, and are left out. Source: the Argo ``NodeStatus`` schema (``type``, ``phase``,
    ``displayName``, ``children``).
    """
    status = workflow.get("status")
    nodes = status.get("nodes") if isinstance(status, dict) else None
    if not isinstance(nodes, dict):
        return []
    retried = {
        child
        for node in nodes.values()
        if isinstance(node, dict) and node.get("type") == "Retry"
        for child in node.get("children") or []
    }
    names: list[str] = []
    for node_id, node in nodes.items():
        if not isinstance(node, dict) or node.get("phase") not in ("Failed", "Error"):
            continue
        kind = node.get("type")
        if kind == "Retry" or (kind == "Pod" and node_id not in retried):
            name = str(node.get("displayName") or node.get("name") or node_id)
            if name not in names:
                names.append(name)
    return names
