"""The one writer of the download columns of ``codex_judge.artifacts`` (migration 0012).

run-complete records where each artifact is (name, node, bucket, key...); this module records
what became of it when it was read: once per artifact per run — a row already fetched is never
rewritten (``fetched_at IS NULL`` guards the update), so a redelivered event or a second judge
pass changes nothing. A read that failed (every store down) is recorded as ``failed`` with
``fetched_at`` left empty, so the next pass tries again. Rows leave as :class:`ArtifactRecord`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.artifacts.excerpts import Excerpt
from shared.artifacts.manifest import ChangesManifest
from shared.artifacts.port import ArtifactLocation, FetchedArtifact
from shared.artifacts.unpack import Finding, Unpacked
from shared.db import Tx
from shared.runs.model import Run

SQL_UNFETCHED = """
SELECT name FROM codex_judge.artifacts
WHERE run_id = :run_id AND fetched_at IS NULL
ORDER BY name
"""
SQL_RECORD_FETCH = """
UPDATE codex_judge.artifacts SET
    pod_name = COALESCE(pod_name, :pod_name),
    fetch_status = :fetch_status, fetched_from = :fetched_from, fetched_where = :fetched_where,
    size_bytes = :size_bytes, sha256 = :sha256, truncated = :truncated,
    layers = CAST(:layers AS jsonb), files = CAST(:files AS jsonb),
    findings = CAST(:findings AS jsonb), manifest = CAST(:manifest AS jsonb),
    excerpts = CAST(:excerpts AS jsonb), fetch_detail = :fetch_detail,
    fetched_at = CASE WHEN :fetch_status = 'failed' THEN NULL ELSE now() END
WHERE run_id = :run_id AND name = :name AND fetched_at IS NULL
"""
SQL_PENDING = """
SELECT name, node_id, pod_name, bucket, key, endpoint
FROM codex_judge.artifacts
WHERE run_id = :run_id AND fetched_at IS NULL
ORDER BY name
"""
SQL_RUN_ARTIFACTS = """
SELECT name, node_id, bucket, key, url, fetch_status, fetched_from, fetched_where, size_bytes,
       sha256, truncated, layers, files, findings, manifest, excerpts, fetch_detail, fetched_at
FROM codex_judge.artifacts WHERE run_id = :run_id ORDER BY name
"""


class ArtifactRecord(BaseModel):
    """One ``codex_judge.artifacts`` row as the judge and ``explain`` read it.

    Attributes:
        name, node_id, bucket, key, url: the location run-complete recorded.
        fetch_status: ``fetched``, ``truncated``, ``missing``, ``unlocated``, ``failed``, or
            None when never read.
        fetched_from, fetched_where: the store (``s3``/``argo-server``) and address read.
        size_bytes, sha256: the object's size; the SHA-256 (hex) of the bytes kept.
        truncated: more than the cap; only the first ``artifact_max_bytes`` were kept.
        layers, files, findings: what unpacking opened, listed (``{"path", "size"}``) and
            refused (:class:`shared.artifacts.unpack.Finding` as objects).
        manifest: the changes manifest, when this artifact held one.
        excerpts: log evidence taken from it (:class:`shared.artifacts.excerpts.Excerpt`).
        fetch_detail: why it is missing/unlocated/failed, one line.
        fetched_at: when it was read (UTC).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    node_id: str | None = None
    bucket: str | None = None
    key: str | None = None
    url: str | None = None
    fetch_status: str | None = None
    fetched_from: str | None = None
    fetched_where: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    truncated: bool = False
    layers: tuple[str, ...] = ()
    files: tuple[dict[str, Any], ...] = ()
    findings: tuple[Finding, ...] = ()
    manifest: ChangesManifest | None = None
    excerpts: tuple[Excerpt, ...] = ()
    fetch_detail: str | None = None
    fetched_at: datetime | None = None


def unfetched(tx: Tx, run_id: int) -> set[str]:
    """Names of the run's artifacts that were never read."""
    return {row["name"] for row in tx.all(SQL_UNFETCHED, run_id=run_id)}


def pending_locations(tx: Tx, run: Run) -> list[ArtifactLocation]:
    """The locations of ``run``'s artifacts no pass has read yet (empty when none). A recorded
    name ``<node_id>/<artifact>`` (several nodes output that artifact) gives back the
    artifact's own name."""
    return [
        ArtifactLocation(
            name=row["name"],
            artifact_name=(
                row["name"].removeprefix(f"{row['node_id']}/") if row["node_id"] else row["name"]
            ),
            node_id=row["node_id"],
            pod_name=row["pod_name"],
            bucket=row["bucket"],
            key=row["key"],
            endpoint=row["endpoint"],
            workflow_name=run.workflow_name,
            namespace=run.namespace,
            workflow_uid=run.workflow_uid,
        )
        for row in tx.all(SQL_PENDING, run_id=run.id)
    ]


def record_fetch(
    tx: Tx,
    run_id: int,
    name: str,
    *,
    fetched: FetchedArtifact | None,
    unpacked: Unpacked | None = None,
    manifest: ChangesManifest | None = None,
    excerpts: Sequence[Excerpt] = (),
    failure: str | None = None,
    pod_name: str | None = None,
) -> bool:
    """Record one read of artifact ``name`` of run ``run_id``, unless it was recorded before.

    Args:
        fetched: what the store answered; None when every store failed (``failure`` says why).
        unpacked: its unpacked contents (files are listed by path and size, not stored).
        manifest, excerpts: what was taken from it.
        failure: one line for a read that failed (status ``failed``).
        pod_name: the producing Pod, when known.

    Returns:
        True when this call recorded it; False when the row was already recorded or absent.
    """
    findings = [f.model_dump(mode="json") for f in unpacked.findings] if unpacked else []
    files = [{"path": f.path, "size": f.size} for f in unpacked.files] if unpacked else []
    status = fetched.status if fetched else "failed"
    changed = tx.run(
        SQL_RECORD_FETCH,
        run_id=run_id,
        name=name,
        pod_name=pod_name,
        fetch_status=status,
        fetched_from=fetched.source if fetched else None,
        fetched_where=fetched.where if fetched else None,
        size_bytes=fetched.size if fetched else None,
        sha256=fetched.sha256 if fetched and fetched.status in ("fetched", "truncated") else None,
        truncated=status == "truncated",
        layers=json.dumps(list(unpacked.layers) if unpacked else []),
        files=json.dumps(files),
        findings=json.dumps(findings),
        manifest=json.dumps(manifest.model_dump(mode="json")) if manifest else None,
        excerpts=json.dumps([e.model_dump(mode="json") for e in excerpts]),
        fetch_detail=failure or (fetched.detail if fetched else None),
    )
    return changed > 0


def run_artifacts(tx: Tx, run_id: int) -> list[ArtifactRecord]:
    """Every artifact of the run with what its read found, by name."""
    return [ArtifactRecord.model_validate(row) for row in tx.all(SQL_RUN_ARTIFACTS, run_id=run_id)]
