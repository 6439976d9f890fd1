"""The artifact-reading use case against a real Postgres: once per run, a failed read tried
again, the manifest checked against the head SHA and merged into the run, excerpts from a real
Codex event stream."""

from __future__ import annotations

import json

from shared import runs
from shared.argo import WorkflowCompletion, parse_completion
from shared.artifacts.excerpts import excerpts
from shared.artifacts.fetch import FetchSummary, fetch_pending, fetch_run_artifacts
from shared.artifacts.port import ArtifactLocation
from shared.artifacts.records import pending_locations, run_artifacts
from shared.artifacts.unpack import Limits, unpack
from shared.db import Database
from shared.local.fakes.artifact_store import InMemoryArtifactStore
from shared.runs import Run
from shared.settings import Settings
from tests.support.archives import CORPUS, SHA, argo_wrapped, changes_archive, manifest

PARAMS = CORPUS.parent / "argo" / "sensor.succeeded.artgc-mixed-s3.params.json"


def _run(db: Database) -> tuple[Run, list[ArtifactLocation]]:
    completion = parse_completion(PARAMS.read_bytes())
    assert isinstance(completion, WorkflowCompletion)
    with db.transaction() as tx:
        result = runs.record_completion(tx, completion)
    return result.run, ArtifactLocation.of_completion(completion)


def _fetch(
    db: Database,
    run: Run,
    locations: list[ArtifactLocation],
    store: InMemoryArtifactStore,
) -> FetchSummary:
    with db.transaction() as tx:
        return fetch_run_artifacts(
            tx, [store], run, locations, max_bytes=1024 * 1024, limits=Limits()
        )


def test_each_artifact_is_read_once_and_a_failed_read_is_tried_again(db: Database) -> None:
    run, locations = _run(db)
    store = InMemoryArtifactStore(down=True)
    summary = _fetch(db, run, locations, store)
    assert summary.statuses == {"failed": 5}
    with db.transaction() as tx:
        failed = run_artifacts(tx, run.id)
    assert {r.fetch_status for r in failed} == {"failed"}
    assert all("503 SlowDown" in (r.fetch_detail or "") and r.fetched_at is None for r in failed)

    store.down = False
    store.objects = {"main-logs": b"ok\n"}
    summary = _fetch(db, run, locations, store)
    assert summary.statuses == {"fetched": 1, "missing": 4}
    store.reads.clear()
    assert _fetch(db, run, locations, store).statuses == {}
    assert store.reads == []


def test_manifest_is_merged_into_the_run_and_checked_against_the_head(db: Database) -> None:
    run, locations = _run(db)
    other = "f" * 40
    store = InMemoryArtifactStore(
        objects={
            "first-on-completion-1": argo_wrapped(
                ".codex-implementation-changes.tar.gz", changes_archive(manifest(commit=other))
            ),
            "first-on-completion-2": argo_wrapped(
                ".codex-implementation-changes.tar.gz",
                changes_archive({"files": "not a list"}),
            ),
        }
    )
    summary = _fetch(db, run, locations, store)
    assert summary.manifest is not None and summary.manifest.commit == other
    with db.transaction() as tx:
        records = {r.name: r for r in run_artifacts(tx, run.id)}
        payload = tx.one("SELECT notify_payload FROM codex_judge.runs WHERE id = :id", id=run.id)
    mismatch = records["first-on-completion-1"].findings
    assert [f.kind for f in mismatch] == ["manifest_commit_mismatch"]
    assert SHA in mismatch[0].detail
    invalid = records["first-on-completion-2"].findings
    assert [f.kind for f in invalid] == ["manifest_invalid"]
    assert "manifest.files" in invalid[0].detail
    assert payload is not None
    assert payload["notify_payload"]["manifest"]["session"] == manifest()["session"]


def test_excerpts_of_a_real_codex_event_stream() -> None:
    stream = (CORPUS / "codex-exec" / "failure.vincent.jsonl").read_bytes()
    found = excerpts("codex-events", unpack(argo_wrapped("events.jsonl", stream), "codex-events"))
    assert [e.kind for e in found] == ["agent_error", "agent_error"]
    assert "requires a newer version of Codex" in found[0].text
    assert found[0].label() == "codex-events/events.jsonl (agent_error)"

    success = (CORPUS / "codex-exec" / "success.vincent.jsonl").read_text()
    messages = [
        json.loads(line)["item"]["text"]
        for line in success.splitlines()
        if '"agent_message"' in line and '"item.completed"' in line
    ]
    found = excerpts("codex-events", unpack(success.encode(), "events.jsonl"))
    assert found[-1].kind == "last_assistant_message"
    assert found[-1].text == messages[-1].strip()[:2000]


def test_a_later_pass_reads_what_is_pending_by_its_recorded_location(
    db: Database, settings: Settings
) -> None:
    # Two nodes output main-logs: recorded as <node_id>/main-logs, read back as main-logs.
    completion = parse_completion(
        (CORPUS / "argo" / "workflow.failed.onexit-s3-keys.yaml").read_bytes()
    )
    assert isinstance(completion, WorkflowCompletion)
    with db.transaction() as tx:
        run = runs.record_completion(tx, completion).run
    stores = [InMemoryArtifactStore(down=True)]
    with db.transaction() as tx:
        first = fetch_pending(tx, stores, settings, run)
    assert first.statuses == {"failed": 2}

    names = [a.name for a in completion.artifacts]
    up = InMemoryArtifactStore(
        objects={names[0]: b"Traceback (most recent call last):\n  x\nE: y\n"}
    )
    with db.transaction() as tx:
        second = fetch_pending(tx, [up], settings, run)
    assert second.statuses == {"fetched": 1, "missing": 1}
    assert sorted(up.reads) == sorted(names)
    assert "traceback" in second.enrichment["artifact_log_excerpt"]
    with db.transaction() as tx:
        assert fetch_pending(tx, [up], settings, run).statuses == {}
        pending = pending_locations(tx, run)
    assert pending == []
