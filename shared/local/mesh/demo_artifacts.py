"""The demo's artifact repository (issue 13): the end-to-end run's artifacts in moto's S3
server, where run-complete reads them, and the lines the demo prints about what it read.

The end-to-end completion is the recorded Argo workflow
``tests/fixtures/corpus/argo/workflow.succeeded.artgc-mixed-s3.yaml``; its artifacts are
stored at the very bucket/key locations that workflow records. Their contents: ``main-logs``
is the recorded Codex event stream ``corpus/codex-exec/success.vincent.jsonl``;
``first-on-completion-1`` is a changes archive in Argo's tgz wrapping whose manifest names the
run's head SHA, the recorded thread id as its session, and the pull request's files. The other
three are left out, so the demo shows missing objects recorded as such.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shared.argo import WorkflowCompletion, parse_completion
from shared.artifacts.explain import render_artifacts
from shared.artifacts.port import ArtifactLocation
from shared.artifacts.records import run_artifacts
from shared.cli.explain import diff_label

CORPUS = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "corpus"
WORKFLOW = CORPUS / "argo" / "workflow.succeeded.artgc-mixed-s3.yaml"
EVENTS = CORPUS / "codex-exec" / "success.vincent.jsonl"
PROMPT = "Fix the README title of Codertocat/Hello-World-e2e (issue 7)."


def _tar_gz(members: Mapping[str, bytes]) -> bytes:
    """A gzip tar of ``members``, byte-for-byte the same on every run (gzip mtime 0), so the
    demo prints the same SHA-256 each time."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue(), mtime=0)


def demo_objects(head_sha: str, files: list[dict[str, Any]]) -> dict[tuple[str, str], bytes]:
    """``(bucket, key) → bytes`` of the end-to-end run's stored artifacts (module docstring)."""
    completion = parse_completion(WORKFLOW.read_bytes())
    assert isinstance(completion, WorkflowCompletion)
    where = {loc.name: loc for loc in ArtifactLocation.of_completion(completion)}
    events = EVENTS.read_bytes()
    session = json.loads(events.splitlines()[0])["thread_id"]
    manifest = {
        "version": 1,
        "prompt": PROMPT,
        "session": session,
        "commit": head_sha,
        "files": [{"path": f["filename"], "status": f["status"][:1].upper()} for f in files],
    }
    changes = _tar_gz({"metadata/manifest.json": json.dumps(manifest).encode()})
    wrapped = _tar_gz({".codex-implementation-changes.tar.gz": changes})
    chosen = {"main-logs": events, "first-on-completion-1": wrapped}
    return {(str(where[n].bucket), str(where[n].key)): body for n, body in chosen.items()}


def render_run_artifacts(db: Any, repository: str) -> str:
    """The artifacts section of ``explain`` for ``repository``'s first run."""
    with db.transaction() as tx:
        row = tx.one(
            "SELECT id FROM codex_judge.runs WHERE repository = :repo ORDER BY id LIMIT 1",
            repo=repository,
        )
        if row is None:
            return f"{repository}: no run"
        lines = render_artifacts(run_artifacts(tx, int(row["id"])))
    return "\n".join([f"Run {row['id']} ({repository})", *lines[1:]])


SQL_JUDGED = """
SELECT r.id, r.repository, r.pr_number, r.head_sha, e.diff_source, e.inputs
FROM codex_judge.runs r
JOIN codex_judge.evaluations e ON e.run_id = r.id AND e.stage = 'final'
WHERE r.repository IS NOT NULL
ORDER BY r.id
"""


def render_file_list_sources(db: Any) -> str:
    """Per judged run, where the judge's file list came from (the worktree snapshot, or
    GitHub's diff labelled as the fallback with its reason; ``-`` when the judge decided on CI
    before reading the diff)."""
    with db.transaction() as tx:
        rows = tx.all(SQL_JUDGED)
    lines = ["File lists the judge used (`codex-judge explain RUN` shows each in full):"]
    for row in rows:
        where = f"{row['repository']}#{row['pr_number']} @ {str(row['head_sha'] or '-')[:12]}"
        lines.append(f"  run {row['id']}: {where}: source {diff_label(row)}")
    return "\n".join(lines)
