"""Read a run's artifacts once, unpack them safely, and record what they hold (issue 13).

For each artifact run-complete recorded and nobody has read yet
(:func:`shared.artifacts.records.unfetched`), the configured stores are asked in order
in the order of the ``artifact_stores`` setting; the first
``fetched``/``truncated`` answer wins, a store that cannot locate the artifact or fails hands over
to the next. The bytes are unpacked in memory (:mod:`shared.artifacts.unpack`), the changes
archive's ``metadata/manifest.json`` parsed (:mod:`shared.artifacts.manifest`), log excerpts
taken (:mod:`shared.artifacts.excerpts`), and the result recorded on the artifact's row.

A store error is a recorded ``failed`` read (tried again on the next pass), a hostile archive a
recorded finding: nothing here stops the run from being judged. The manifest, and the excerpts
labelled with their source, are merged into the run's ``notify_payload`` the way the notify
enrichment is (:func:`shared.runs.record_notify`: top-level keys ``manifest`` and
``artifact_log_excerpt``), so the judge reads them beside notify's own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.agents.backfill import backfill
from shared.argo.model import WorkflowCompletion
from shared.artifacts.excerpts import Excerpt, excerpts, is_event_stream
from shared.artifacts.manifest import MANIFEST_PATH, ChangesManifest, ManifestError, parse_manifest
from shared.artifacts.port import ArtifactLocation, ArtifactStore, FetchedArtifact
from shared.artifacts.records import pending_locations, record_fetch, run_artifacts, unfetched
from shared.artifacts.unpack import Finding, Limits, Unpacked, unpack
from shared.db import Tx
from shared.errors import CodexJudgeError
from shared.runs import record_notify
from shared.runs.model import Run
from shared.settings import Settings

#: Characters of labelled excerpts merged into the run for the judge (about 2k tokens).
EXCERPT_BUDGET_CHARS = 8000


class ArtifactEvidence(BaseModel):
    """What one artifact yielded (see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    location: ArtifactLocation
    fetched: FetchedArtifact | None = None
    unpacked: Unpacked | None = None
    manifest: ChangesManifest | None = None
    excerpts: tuple[Excerpt, ...] = ()
    #: The Codex event streams (``codex exec --json`` files) found in it, as lines.
    event_streams: tuple[tuple[str, ...], ...] = ()
    failure: str | None = None


@dataclass(frozen=True)
class FetchSummary:
    """What :func:`fetch_run_artifacts` recorded: ``statuses`` maps fetch status → count;
    ``findings`` counts refused members and manifest problems; ``manifest`` is the changes
    manifest when one was found; ``enrichment`` what was merged into ``notify_payload``."""

    statuses: dict[str, int] = field(default_factory=dict)
    findings: int = 0
    manifest: ChangesManifest | None = None
    enrichment: dict[str, Any] = field(default_factory=dict)


def read_artifact(
    stores: Sequence[ArtifactStore],
    location: ArtifactLocation,
    *,
    max_bytes: int,
    limits: Limits,
    head_sha: str | None = None,
) -> ArtifactEvidence:
    """Read, unpack and excerpt one artifact; never raises for a store or content problem.

    Args:
        stores: tried in order (module docstring).
        location: the artifact.
        max_bytes: bytes kept per artifact (``artifact_max_bytes``).
        limits: unpacking caps.
        head_sha: the run's head SHA, checked against the manifest's ``commit``.
    """
    answers: list[FetchedArtifact] = []
    failures: list[str] = []
    for store in stores:
        try:
            got = store.fetch(location, max_bytes=max_bytes)
        except CodexJudgeError as exc:
            failures.append(f"{store.kind}: {exc.message}")
            continue
        if got.status in ("fetched", "truncated"):
            return _open(location, got, limits, head_sha)
        answers.append(got)
    missing = next((a for a in answers if a.status == "missing"), None)
    if failures and missing is None:
        return ArtifactEvidence(location=location, failure="; ".join(failures)[:500])
    if missing is not None or answers:
        return ArtifactEvidence(location=location, fetched=missing or answers[-1])
    return ArtifactEvidence(location=location, failure="no artifact store is configured")


def _open(
    location: ArtifactLocation, got: FetchedArtifact, limits: Limits, head_sha: str | None
) -> ArtifactEvidence:
    unpacked = unpack(got.content, location.key or location.artifact_name, limits)
    manifest: ChangesManifest | None = None
    extra: list[Finding] = []
    entry = unpacked.file(MANIFEST_PATH)
    if entry is not None:
        try:
            manifest = parse_manifest(entry.content)
        except ManifestError as exc:
            extra.append(Finding(kind="manifest_invalid", member=MANIFEST_PATH, detail=str(exc)))
    if manifest and manifest.commit and head_sha and not head_sha.startswith(manifest.commit):
        extra.append(
            Finding(
                kind="manifest_commit_mismatch",
                member=MANIFEST_PATH,
                detail=f"manifest commit {manifest.commit} is not the run's head {head_sha}",
            )
        )
    if extra:
        unpacked = unpacked.model_copy(update={"findings": unpacked.findings + tuple(extra)})
    return ArtifactEvidence(
        location=location,
        fetched=got.model_copy(update={"content": b""}),  # recorded by hash, not kept
        unpacked=unpacked,
        manifest=manifest,
        excerpts=tuple(excerpts(location.name, unpacked)),
        event_streams=tuple(
            tuple(text.splitlines())
            for entry in unpacked.files
            if is_event_stream(text := entry.content.decode("utf-8", errors="replace"))
        ),
    )


def fetch_run_artifacts(
    tx: Tx,
    stores: Sequence[ArtifactStore],
    run: Run,
    locations: Sequence[ArtifactLocation],
    *,
    max_bytes: int,
    limits: Limits,
    budget_s: float | None = None,
    agent_id: str = "codex",
) -> FetchSummary:
    """Read every not-yet-read artifact of ``run`` and record it (module docstring); the Codex
    event streams among them backfill the agent messages of agent ``agent_id``.

    Args:
        tx: the open transaction the rows are written in.
        stores: the configured stores, in order; empty → nothing is read.
        run: the run whose artifacts these are.
        locations: where the run's artifacts are (:meth:`ArtifactLocation.of_completion`).
        max_bytes, limits: the caps (settings ``artifact_max_bytes``, ``artifact_unpack_*``).
        budget_s: seconds this call may spend reading; artifacts not started by then stay
            unread for the next pass. None: no limit.

    Returns:
        A :class:`FetchSummary` of what this call recorded; ``enrichment`` is what was merged
        into the run's ``notify_payload`` (built from every artifact read so far, this pass's
        and earlier ones').
    """
    if not stores:
        return FetchSummary()
    run_id = run.id
    todo = unfetched(tx, run_id)
    deadline = None if budget_s is None else time.monotonic() + budget_s
    statuses: dict[str, int] = {}
    findings = 0
    for location in locations:
        if location.name not in todo:
            continue
        if deadline is not None and time.monotonic() > deadline:
            break
        evidence = read_artifact(
            stores, location, max_bytes=max_bytes, limits=limits, head_sha=run.head_sha
        )
        recorded = record_fetch(
            tx,
            run_id,
            location.name,
            fetched=evidence.fetched,
            unpacked=evidence.unpacked,
            manifest=evidence.manifest,
            excerpts=evidence.excerpts,
            failure=evidence.failure,
            pod_name=location.pod_name,
        )
        if not recorded:
            continue
        for lines in evidence.event_streams:  # what NATS missed, stored once (issue 15)
            backfill(tx, run, lines, agent_id)
        status = evidence.fetched.status if evidence.fetched else "failed"
        statuses[status] = statuses.get(status, 0) + 1
        findings += len(evidence.unpacked.findings) if evidence.unpacked else 0
    if not statuses:
        return FetchSummary()
    records = run_artifacts(tx, run_id)
    manifest = next((r.manifest for r in records if r.manifest is not None), None)
    gathered = [excerpt for r in records for excerpt in r.excerpts]
    enrichment: dict[str, Any] = manifest.enrichment() if manifest else {}
    if gathered:
        enrichment["artifact_log_excerpt"] = labelled(gathered)
    if enrichment:
        record_notify(tx, run.workflow_uid, enrichment)
    return FetchSummary(
        statuses=statuses, findings=findings, manifest=manifest, enrichment=enrichment
    )


def fetch_pending(
    tx: Tx, stores: Sequence[ArtifactStore], settings: Settings, run: Run
) -> FetchSummary:
    """The judge's step: read the run's artifacts that no pass has read yet (a failed read
    included), within ``artifact_fetch_budget_s``; one query and nothing else when none is
    pending or no store is configured."""
    if not stores:
        return FetchSummary()
    locations = pending_locations(tx, run)
    if not locations:
        return FetchSummary()
    return fetch_run_artifacts(
        tx,
        stores,
        run,
        locations,
        max_bytes=settings.artifact_max_bytes,
        limits=limits_from(settings),
        budget_s=settings.artifact_fetch_budget_s,
        agent_id=settings.agents_codex_agent_id,
    )


def limits_from(settings: Settings) -> Limits:
    """The unpacking caps the settings name (``artifact_unpack_*``)."""
    return Limits(
        max_members=settings.artifact_unpack_max_members,
        max_member_bytes=settings.artifact_unpack_max_member_bytes,
        max_total_bytes=settings.artifact_unpack_max_total_bytes,
    )


def fetch_for_completion(
    tx: Tx,
    stores: Sequence[ArtifactStore],
    settings: Settings,
    run: Run,
    completion: WorkflowCompletion,
) -> FetchSummary:
    """run-complete's step: :func:`fetch_run_artifacts` for the artifacts of ``completion``
    with the configured caps; nothing happens when no store is configured (the locations are
    not even listed: run-complete's hot path, issue 12)."""
    if not stores:
        return FetchSummary()
    return fetch_run_artifacts(
        tx,
        stores,
        run,
        ArtifactLocation.of_completion(completion),
        max_bytes=settings.artifact_max_bytes,
        limits=limits_from(settings),
        budget_s=settings.artifact_fetch_budget_s,
        agent_id=settings.agents_codex_agent_id,
    )


def labelled(found: Sequence[Excerpt], budget: int = EXCERPT_BUDGET_CHARS) -> str:
    """Excerpts as one text for the judge, each under a ``[<artifact>/<path> (<kind>)]``
    heading, stopping before ``budget`` characters."""
    parts: list[str] = []
    used = 0
    for excerpt in found:
        part = f"[{excerpt.label()}]\n{excerpt.text}"
        if used + len(part) > budget:
            break
        parts.append(part)
        used += len(part) + 2
    return "\n\n".join(parts)
