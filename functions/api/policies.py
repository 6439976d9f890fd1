"""``GET /api/policies/{owner}/{repo}``: the policy in force for a repository, its SHA-256 hash
(what each evaluation records), the layers it was built from, and the version history of the
repository's pack — and ``GET /api/policies/{owner}/{repo}/findings``: the gate findings recorded
under its policies (:mod:`shared.operator.findings`). Read through those modules (no SQL of
its own)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.db import Tx
from shared.operator.findings import FindingsPage, FindingsQuery, recorded_findings
from shared.policy.packs import pack_history
from shared.policy.resolution import resolve
from shared.settings import Settings


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolicyVersion(_Model):
    """One stored version of the repository's pack."""

    version: int
    digest: str = Field(description="SHA-256 of the pack as stored")
    source_format: str
    created_by: str | None
    created_at: datetime


class PolicyView(_Model):
    """The effective policy of one repository."""

    repository: str
    policy_hash: str = Field(description="SHA-256 of the effective policy (evaluations record it)")
    policy: dict[str, Any] = Field(description="every rule in force")
    layers: list[dict[str, Any]] = Field(description="defaults → central pack → repository pack")
    versions: list[PolicyVersion] = Field(
        description="the repository pack's versions, oldest first"
    )


def policy_view(tx: Tx, settings: Settings, repository: str) -> PolicyView:
    """The effective policy of ``repository`` (``owner/name``) with its layers and history.

    Raises:
        InvalidDataError: a stored pack is invalid (``field`` names the layer and key).
    """
    resolved = resolve(tx, settings, repository)
    return PolicyView(
        repository=repository,
        policy_hash=resolved.policy.digest(),
        policy=resolved.policy.model_dump(mode="json"),
        layers=resolved.layers,
        versions=[PolicyVersion.model_validate(v) for v in pack_history(tx, repository)],
    )


def policy_findings(
    tx: Tx, settings: Settings, repository: str, query: FindingsQuery
) -> FindingsPage:
    """One page of the gate findings recorded for ``repository`` (``owner/name``), each
    marked whether it was recorded under today's effective policy.

    Raises:
        InvalidDataError: a stored pack is invalid (the effective hash cannot be computed).
        CursorError: ``query.cursor`` is not a cursor of this list.
    """
    current = resolve(tx, settings, repository).policy.digest()
    return recorded_findings(tx, repository, current, query)
