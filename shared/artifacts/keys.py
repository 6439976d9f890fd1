"""Where an artifact lives in the artifact repository when its status carries no key.

Argo stores an output artifact under ``<key prefix>/<artifact name>.tgz`` (tar+gzip is the
default archive strategy), the prefix rendered from the artifact repository's ``keyFormat``;
without one the prefix is ``{{workflow.name}}/{{pod.name}}`` (argo-workflows
``workflow/artifactrepositories``, ``DefaultArchivePattern``; docs "Configuring Your Artifact
Repository", *keyFormat*). Pod names follow Argo's ``POD_NAMES=v2`` scheme
(``util/pod_name.go``, ``GeneratePodName``): the root node's pod is named like the workflow,
any other ``<workflow>-<template>-<node hash>``, the hash being the node id's suffix after the
workflow name.
"""

from __future__ import annotations

import re

from shared.artifacts.port import ArtifactLocation

#: Argo's default key prefix when the artifact repository has no ``keyFormat``.
DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"
#: Kubernetes object names are at most 253 characters; Argo keeps room for ``-<10 digits>``.
_MAX_POD_PREFIX = 253 - 10 - 1
_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}")


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


def default_key(location: ArtifactLocation, key_format: str | None = None) -> str | None:
    """``<rendered key_format>/<artifact name>.tgz`` for ``location``, or None when a
    placeholder of the format has no value (e.g. no pod name is known).

    Args:
        location: the artifact; ``workflow_name``, ``namespace``, ``workflow_uid`` and
            ``pod_name`` feed the placeholders ``{{workflow.name}}``,
            ``{{workflow.namespace}}``, ``{{workflow.uid}}`` and ``{{pod.name}}``.
        key_format: the repository's ``keyFormat``; None or empty → :data:`DEFAULT_KEY_FORMAT`.
    """
    values = {
        "workflow.name": location.workflow_name,
        "workflow.namespace": location.namespace,
        "workflow.uid": location.workflow_uid,
        "pod.name": location.pod_name,
    }
    unknown = False

    def render(match: re.Match[str]) -> str:
        nonlocal unknown
        value = values.get(match.group(1))
        if not value:
            unknown = True
            return ""
        return value

    prefix = _PLACEHOLDER.sub(render, key_format or DEFAULT_KEY_FORMAT).strip("/")
    if unknown or not prefix:
        return None
    return f"{prefix}/{location.artifact_name}.tgz"
