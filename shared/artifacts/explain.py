"""The "Evidence from the run's artifacts" section of ``codex-judge explain``: every artifact
with where it was read from, its size and SHA-256, what unpacking refused, and the source of
every file list and log excerpt taken from it (issue 13, "explain names the source")."""

from __future__ import annotations

from collections.abc import Sequence

from shared.artifacts.records import ArtifactRecord
from shared.gates.redact import redact

_EXCERPT_LINES = 6


def render_artifacts(records: Sequence[ArtifactRecord]) -> list[str]:
    """The section's lines (empty when the run has no artifacts)."""
    if not records:
        return []
    lines = ["", "Artifacts:"]
    for record in records:
        lines.append(f"  - {record.name}: {_status(record)}")
        if record.layers:
            lines.append(f"      layers {' > '.join(record.layers)}; {len(record.files)} file(s)")
        lines += [
            f"      refused {f.kind}" + (f" {f.member!r}" if f.member else "") + f": {f.detail}"
            for f in record.findings
        ]
        if record.manifest is not None:
            manifest = record.manifest
            source = f"{record.name}/metadata/manifest.json"
            lines.append(
                f"      manifest ({source}): session {manifest.session or '-'}, "
                f"commit {manifest.commit or '-'}"
            )
            if manifest.prompt:
                first = redact(manifest.prompt).text.splitlines()[0][:160]
                lines.append(f"        prompt: {first}")
            lines.append(f"        file list ({len(manifest.files)} file(s), source {source}):")
            lines += [f"          {f.status or '?'} {f.path}" for f in manifest.files[:50]]
        for excerpt in record.excerpts:
            lines.append(f"      excerpt from {excerpt.label()}:")
            text = redact(excerpt.text).text.splitlines()
            lines += [f"        {line}" for line in text[:_EXCERPT_LINES]]
            if len(text) > _EXCERPT_LINES:
                lines.append(f"        … {len(text) - _EXCERPT_LINES} more line(s)")
    return lines


def _status(record: ArtifactRecord) -> str:
    if record.fetch_status is None:
        return "not read"
    parts = [record.fetch_status]
    if record.fetched_from:
        parts.append(f"from {record.fetched_from} {record.fetched_where or ''}".rstrip())
    if record.size_bytes is not None:
        parts.append(f"{record.size_bytes} bytes")
    if record.sha256:
        kept = " of the kept bytes" if record.truncated else ""
        parts.append(f"sha256 {record.sha256[:16]}…{kept}")
    if record.fetch_detail:
        parts.append(record.fetch_detail)
    return ", ".join(parts)
