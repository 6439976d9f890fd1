"""Pod names of workflow nodes, as Argo gives them.

Argo's ``POD_NAMES=v2`` scheme (the default since v3.4; argo-workflows ``util/pod_name.go``,
``GeneratePodName``): the root node's pod is named like the workflow, any other
``<workflow>-<template>-<node hash>``, the hash being the node id's suffix after the workflow
name; the ``<workflow>-<template>`` prefix is cut to leave room for the hash in a 253-character
Kubernetes name. Checked against the recorded keys in
``tests/fixtures/corpus/argo/workflow.succeeded.artgc-mixed-s3.yaml``.
"""

from __future__ import annotations

#: Kubernetes object names are at most 253 characters; Argo keeps room for ``-<10 digits>``.
_MAX_POD_PREFIX = 253 - 10 - 1


def pod_name(workflow_name: str, node_id: str, template_name: str | None) -> str | None:
    """The Pod that ran node ``node_id`` (module docstring), or None when it cannot be told.

    Args:
        workflow_name: ``metadata.name`` of the workflow.
        node_id: the ``status.nodes`` key (``<workflow>-<decimal hash>`` or the workflow name).
        template_name: the node's ``templateName``.
    """
    if node_id == workflow_name:
        return workflow_name
    suffix = node_id.removeprefix(f"{workflow_name}-")
    if not template_name or suffix == node_id or not suffix.isdigit():
        return None
    prefix = f"{workflow_name}-{template_name}"[:_MAX_POD_PREFIX]
    return f"{prefix}-{suffix}"
