"""What run-complete learns from one Argo workflow: :class:`WorkflowCompletion` for a finished
workflow, :class:`UnfinishedWorkflow` for one that is still Pending or Running.

Phases come from the Argo ``Workflow`` status (``Pending``, ``Running``, ``Succeeded``,
``Failed``, ``Error``; argo-workflows ``pkg/apis/workflow/v1alpha1/workflow_types.go``): only
the last three mean the workflow has finished (DESIGN §3).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Argo phases of a finished workflow (``WorkflowPhase.Completed()`` upstream).
FINISHED_PHASES = frozenset({"Succeeded", "Failed", "Error"})


class NodeArtifact(BaseModel):
    """An output artifact of a workflow node and where its object lives: what a recorded
    :class:`Artifact` and an :class:`~shared.artifacts.port.ArtifactLocation` both carry.

    Attributes:
        name: unique within the workflow: the Argo artifact name, or ``<node_id>/<name>`` when
            several nodes output an artifact of that name (every Pod node has ``main-logs``).
        artifact_name: the Argo artifact name as declared (``main-logs``).
        node_id: the ``status.nodes`` key of the node that produced it.
        pod_name: the Pod that ran that node (Argo's ``POD_NAMES=v2`` scheme, see
            :func:`shared.argo.pods.pod_name`), for Argo's default key layout; None when
            it cannot be told.
        bucket, key, endpoint: the object location; any may be None.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    artifact_name: str
    node_id: str | None = None
    pod_name: str | None = None
    bucket: str | None = None
    key: str | None = None
    endpoint: str | None = None


class Artifact(NodeArtifact):
    """One output artifact of a workflow node, as run-complete records it (the fields of
    :class:`NodeArtifact`; an s3 artifact that carries only ``key`` takes ``bucket``/``endpoint``
    from ``status.artifactRepositoryRef.artifactRepository.s3``).

    Attributes:
        url: ``s3://bucket/key`` (``gcs://``, ``oss://``, ``azure://`` alike), or the artifact's
            own URL for http/artifactory artifacts; None when the location is unknown.
    """

    url: str | None = None


class RunMetadata(BaseModel):
    """The run identity a Codex workflow carries (see :mod:`shared.argo.metadata` for where
    each field is read from). Every field may be missing; run-complete decides what that means.

    Attributes:
        repository: ``owner/name``.
        issue_number, pr_number: positive integers.
        head_sha: the commit the run produced (7 to 40 lowercase hex as sent; 40 in practice).
        head_ref, base_ref: branch names without ``refs/heads/``.
        pr_url, issue_url: GitHub HTML URLs.
        attempt: 1-based attempt number the submitter asked for.
    """

    repository: str | None = None
    issue_number: int | None = None
    head_sha: str | None = None
    head_ref: str | None = None
    base_ref: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    issue_url: str | None = None
    attempt: int | None = None

    def missing_required(self) -> list[str]:
        """Names of the fields a run cannot be judged without (DESIGN §1: repository, issue
        and the exact head SHA), in that order; empty when all are present."""
        required = {
            "repository": self.repository,
            "issue_number": self.issue_number,
            "head_sha": self.head_sha,
        }
        return [name for name, value in required.items() if value in (None, "")]


class WorkflowCompletion(BaseModel):
    """A finished Argo workflow, whatever shape it arrived in.

    Attributes:
        uid: ``metadata.uid`` (the workflow uid; a run's identity).
        name, namespace: ``metadata.name`` / ``metadata.namespace``.
        phase: ``Succeeded``, ``Failed`` or ``Error``.
        finished_at, started_at: ``status.finishedAt`` / ``status.startedAt`` exactly as sent
            (RFC 3339 text, UTC); ``finished_at`` is ``""`` when Argo sent none.
        message: ``status.message`` (e.g. ``Error (exit code 1)``).
        labels, annotations: ``metadata.labels`` / ``metadata.annotations`` as strings.
        parameters: ``spec.arguments.parameters`` as name → value.
        artifacts: every node output artifact, deduplicated by location.
        metadata: the run identity (see :class:`RunMetadata`).
    """

    uid: str
    name: str | None = None
    namespace: str | None = None
    phase: str
    finished_at: str = ""
    started_at: str | None = None
    message: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, str] = Field(default_factory=dict)
    artifacts: list[Artifact] = Field(default_factory=list)
    metadata: RunMetadata = Field(default_factory=RunMetadata)

    @property
    def completion_key(self) -> str:
        """``<uid>:<phase>:<finished_at>``: one fact, however many UPDATE events carry it."""
        return f"{self.uid}:{self.phase}:{self.finished_at}"


class UnfinishedWorkflow(BaseModel):
    """A workflow that has not finished (phase ``Pending``, ``Running`` or none yet)."""

    uid: str | None = None
    name: str | None = None
    phase: str = ""

    def note(self) -> str:
        """A one-line explanation for logs and the NoReply note."""
        return (
            f"workflow {self.name or self.uid or '?'} is {self.phase or 'without a phase'}; "
            "not a completion"
        )


def as_text(value: Any) -> str | None:
    """A scalar as text (None and ``""`` → None); used for labels and parameter values."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text != "" else None
