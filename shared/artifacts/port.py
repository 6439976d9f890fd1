"""The ``ArtifactStore`` port: read one output artifact of a workflow, bounded.

An artifact is addressed by an :class:`ArtifactLocation` (what run-complete recorded in
``codex_judge.artifacts`` plus the workflow's identity). Two adapters implement the port:

* ``S3ArtifactStore`` (``shared.adapters.s3_artifacts``): the bucket directly, through boto3;
* ``HttpxArgoArtifactStore`` (``shared.adapters.argo_artifacts``): the Argo Server's
  ``/artifact-files/...`` endpoints, for clusters without direct bucket access.

Outcomes a caller records are values of :class:`FetchedArtifact` (``fetched``, ``truncated``,
``missing``, ``unlocated``), never exceptions. A failure a retry may cure (5xx after the
adapter's own retries, a timeout, a refused connection) raises
:class:`shared.errors.UpstreamError`; a refusal that will not change (403: wrong credentials or
policy) raises :class:`shared.errors.UpstreamRejectedError`.
"""

from __future__ import annotations

import hashlib
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from shared.argo.model import NodeArtifact, WorkflowCompletion

#: What became of one artifact.
#: ``fetched``: the whole object was read; ``truncated``: the object is larger than the cap and
#: only the first ``cap`` bytes were kept (``size`` is the object's real size when the store
#: reports it); ``missing``: the store has no such object (S3 ``NoSuchKey``, Argo 404);
#: ``unlocated``: the location lacks what this store needs (no bucket, no node id...).
FetchStatus = Literal["fetched", "truncated", "missing", "unlocated"]
StoreKind = Literal["s3", "argo-server"]


class ArtifactLocation(NodeArtifact):
    """Where one artifact of one workflow lives: the recorded :class:`NodeArtifact` fields
    (``name`` unique per run: ``main-logs`` or ``<node_id>/main-logs``; ``bucket``, ``key`` and
    ``endpoint`` the S3 location) and the workflow's identity.

    Attributes:
        workflow_name, namespace, workflow_uid: the workflow's identity (``metadata.*``).
    """

    workflow_name: str | None = None
    namespace: str | None = None
    workflow_uid: str | None = None

    @classmethod
    def of_completion(cls, completion: WorkflowCompletion) -> list[ArtifactLocation]:
        """The location of every artifact of a finished workflow, in recorded order."""
        return [
            cls(
                **artifact.model_dump(include=set(NodeArtifact.model_fields)),
                workflow_name=completion.name,
                namespace=completion.namespace,
                workflow_uid=completion.uid,
            )
            for artifact in completion.artifacts
        ]


class FetchedArtifact(BaseModel):
    """One read of an artifact.

    Attributes:
        status: see :data:`FetchStatus`.
        source: which store answered (``s3`` or ``argo-server``).
        where: the address read (``s3://bucket/key`` or the Argo Server path), for the record.
        content: the bytes read, at most the cap; empty unless fetched/truncated.
        size: the object's size in bytes as the store reported it (``Content-Length``), else
            ``len(content)``; None when missing/unlocated.
        sha256: hex SHA-256 of ``content`` (of the kept bytes when truncated); None when empty.
        detail: why a missing/unlocated result is so, one line.
    """

    model_config = ConfigDict(frozen=True)

    status: FetchStatus
    source: StoreKind
    where: str | None = None
    content: bytes = b""
    size: int | None = None
    sha256: str | None = None
    detail: str | None = None

    @classmethod
    def read(
        cls, source: StoreKind, where: str, content: bytes, *, cap: int, size: int | None
    ) -> FetchedArtifact:
        """The result of reading ``content`` (at most ``cap + 1`` bytes were asked for).

        ``size`` is the store's own size of the object, when it sent one; more than ``cap``
        bytes read or announced → ``truncated`` and ``content`` cut to ``cap`` bytes.
        """
        total = max(size or 0, len(content))
        kept = content[:cap]
        return cls(
            status="truncated" if total > cap else "fetched",
            source=source,
            where=where,
            content=kept,
            size=total,
            sha256=hashlib.sha256(kept).hexdigest(),
        )


class ArtifactStore(Protocol):
    """Reads workflow output artifacts (module docstring for the outcomes and errors)."""

    kind: StoreKind

    def fetch(self, location: ArtifactLocation, *, max_bytes: int) -> FetchedArtifact:
        """Read the artifact at ``location``, keeping at most ``max_bytes`` bytes.

        Returns:
            A :class:`FetchedArtifact` (missing and unlocated are values).

        Raises:
            UpstreamError: the store failed after the adapter's retries (5xx, timeout).
            UpstreamRejectedError: the store refused the request (403 and other 4xx but 404).
        """
        ...
