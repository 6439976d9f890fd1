"""Where an artifact lives in the artifact repository when its status carries no key.

Argo stores an output artifact under ``<key prefix>/<artifact name>.tgz`` (tar+gzip is the
default archive strategy), the prefix rendered from the artifact repository's ``keyFormat``;
without one the prefix is ``{{workflow.name}}/{{pod.name}}`` (argo-workflows
``workflow/artifactrepositories``, ``DefaultArchivePattern``; docs "Configuring Your Artifact
Repository", *keyFormat*); the pod name is :func:`shared.argo.pods.pod_name`'s.
"""

from __future__ import annotations

import re

from shared.artifacts.port import ArtifactLocation

#: Argo's default key prefix when the artifact repository has no ``keyFormat``.
DEFAULT_KEY_FORMAT = "{{workflow.name}}/{{pod.name}}"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}")


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
