"""The run store against a real Postgres: identity, attempts, supersession, merges."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from shared import runs
from shared.argo import WorkflowCompletion, parse_completion
from shared.db import Database
from shared.errors import ConflictError

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
SHA = "0123456789abcdef0123456789abcdef01234567"


def _completion(
    uid: str = "uid-1",
    *,
    attempt: int | None = 1,
    issue: int | None = 42,
    head_sha: str | None = SHA,
    finished_at: str = "2022-08-01T22:30:09Z",
) -> WorkflowCompletion:
    base = parse_completion(
        (FIXTURES / "argo/sensor.succeeded.artgc-mixed-s3.params.json").read_bytes()
    )
    assert isinstance(base, WorkflowCompletion)
    meta = base.metadata.model_copy(
        update={"attempt": attempt, "issue_number": issue, "head_sha": head_sha}
    )
    return base.model_copy(update={"uid": uid, "metadata": meta, "finished_at": finished_at})


def _record(db: Database, completion: WorkflowCompletion) -> runs.CompletionResult:
    with db.transaction() as tx:
        return runs.record_completion(tx, completion)


def _run(db: Database, uid: str) -> runs.Run:
    with db.transaction() as tx:
        row = runs.get_run_by_uid(tx, uid)
    assert row is not None
    return row


def _wait_for_a_lock_waiter(db: Database) -> None:
    """Return once another session waits on a lock (at most about 4 s)."""
    for _ in range(200):
        with db.transaction() as probe:
            waiting = probe.one(
                "SELECT count(*) AS n FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        if waiting and waiting["n"] > 0:
            return
        time.sleep(0.02)


def test_completion_with_metadata_waits_for_ci(db: Database) -> None:
    result = _record(db, _completion())
    assert not result.duplicate
    run = result.run
    assert (run.status, run.attempt, run.attempt_source) == (
        "waiting_for_ci",
        1,
        "workflow",
    )
    assert (run.repository, run.issue_number, run.head_sha) == ("acme/widgets", 42, SHA)
    assert run.phase == "Succeeded"
    assert run.parameters["repository"] == "acme/widgets"


def test_same_completion_twice_changes_nothing(db: Database) -> None:
    first = _record(db, _completion()).run
    again = _record(db, _completion())
    assert again.duplicate
    assert _run(db, "uid-1") == first
    with db.transaction() as tx:
        assert tx.one("SELECT count(*) AS n FROM codex_judge.run_completions")["n"] == 1


def test_missing_metadata_goes_to_needs_human_and_is_kept(db: Database) -> None:
    result = _record(db, _completion(issue=None, head_sha=None))
    assert result.missing == ["issue_number", "head_sha"]
    assert (result.run.status, result.run.reason) == ("needs_human", "missing_run_metadata")


def test_new_attempt_supersedes_the_older_active_run(db: Database) -> None:
    older = _record(db, _completion("uid-1", attempt=1)).run
    newer = _record(db, _completion("uid-2", attempt=2))
    assert newer.superseded == [older.id]
    assert newer.run.status == "waiting_for_ci"
    assert (_run(db, "uid-1").status, _run(db, "uid-1").reason) == (
        "superseded",
        "superseded_by_new_attempt",
    )


def test_late_completion_of_an_older_attempt_does_not_supersede_the_newer(db: Database) -> None:
    _record(db, _completion("uid-2", attempt=2))
    late = _record(db, _completion("uid-1", attempt=1)).run
    assert (late.status, late.reason) == ("superseded", "superseded_by_newer_attempt")
    assert _run(db, "uid-2").status == "waiting_for_ci"


def test_taken_attempt_becomes_max_plus_one(db: Database) -> None:
    _record(db, _completion("uid-1", attempt=1))
    second = _record(db, _completion("uid-2", attempt=1)).run
    assert (second.attempt, second.attempt_source) == (2, "computed")
    third = _record(db, _completion("uid-3", attempt=None)).run
    assert third.attempt == 3


def test_concurrent_completions_for_one_issue_get_distinct_attempts(db: Database) -> None:
    """The second writer waits on the first's uncommitted attempt number, then loses its
    transaction with a 409 (no savepoint on the hot path); its redelivery takes the next
    attempt and supersedes the first run."""
    results: dict[str, Any] = {}
    with db.transaction() as tx:
        first = runs.record_completion(tx, _completion("uid-a", attempt=None))

        def other() -> None:
            try:
                _record(db, _completion("uid-b", attempt=None))
            except ConflictError as exc:
                results["conflict"] = exc
            results["b"] = _record(db, _completion("uid-b", attempt=None))  # the redelivery

        worker = threading.Thread(target=other)
        worker.start()
        # Commit only once the other writer is blocked on our uncommitted attempt number.
        _wait_for_a_lock_waiter(db)
    worker.join(timeout=10)
    assert first.run.attempt == 1
    assert isinstance(results["conflict"], ConflictError)
    assert results["b"].run.attempt == 2
    assert results["b"].run.status == "waiting_for_ci"
    assert _run(db, "uid-a").status == "superseded"


def test_transition_is_compare_and_set(db: Database) -> None:
    run_id = _record(db, _completion()).run.id
    with db.transaction() as tx:
        moved = runs.transition(
            tx,
            run_id,
            from_statuses=["waiting_for_ci"],
            to_status="waiting_for_review",
            ci_verdict="success",
            ci_summary={"failing": []},
        )
        late = runs.transition(
            tx,
            run_id,
            from_statuses=["waiting_for_ci"],
            to_status="needs_iteration",
            reason="ci_failed",
        )
        row = runs.get_run(tx, run_id)
    assert (moved, late) == (True, False)
    assert row is not None
    assert (row.status, row.ci_verdict, row.ci_summary) == (
        "waiting_for_review",
        "success",
        {"failing": []},
    )


def test_active_runs_by_sha_and_pr(db: Database) -> None:
    run = _record(db, _completion()).run
    with db.transaction() as tx:
        runs.transition(
            tx, run.id, from_statuses=["waiting_for_ci"], to_status="waiting_for_ci", pr_number=8
        )
        by_sha = runs.active_runs_for_sha(tx, "acme/widgets", SHA)
        by_pr = runs.active_runs_for_pr(tx, "acme/widgets", 8)
        other = runs.active_runs_for_sha(tx, "acme/other", SHA)
    assert [r.id for r in by_sha] == [run.id] == [r.id for r in by_pr]
    assert other == []


def test_notify_merges_keys_and_never_overwrites_wholesale(db: Database) -> None:
    with db.transaction() as tx:
        runs.record_notify(
            tx, "uid-1", {"workflow_uid": "uid-1", "prompt": "fix it", "summary": "draft"}
        )
        row = runs.record_notify(tx, "uid-1", {"workflow_uid": "uid-1", "summary": "done"})
    assert row.status == "notified"
    assert row.notify_payload == {"workflow_uid": "uid-1", "prompt": "fix it", "summary": "done"}


def test_notify_metadata_fills_what_the_workflow_lacks(db: Database) -> None:
    with db.transaction() as tx:
        runs.record_notify(
            tx,
            "uid-1",
            {"workflow_uid": "uid-1", "issue_number": 42, "head_sha": SHA, "pr_number": 8},
        )
    run = _record(db, _completion("uid-1", issue=None, head_sha=None)).run
    assert (run.status, run.issue_number, run.head_sha, run.pr_number) == (
        "waiting_for_ci",
        42,
        SHA,
        8,
    )


def test_artifacts_and_agent_messages_are_stored_once(db: Database) -> None:
    completion = _completion()
    events = [
        json.loads(line)
        for line in (FIXTURES / "corpus/codex-exec/tooluse.vincent.jsonl").read_text().splitlines()
    ]
    run_id = _record(db, completion).run.id
    for _ in range(2):
        with db.transaction() as tx:
            runs.record_artifacts(tx, run_id, completion.artifacts)
            runs.record_agent_messages(tx, run_id, events)
    with db.transaction() as tx:
        artifacts = tx.all("SELECT name, bucket, url FROM codex_judge.artifacts ORDER BY name")
        messages = tx.all(
            "SELECT seq, kind, content FROM workflow_comms.agent_messages ORDER BY seq"
        )
    assert len(artifacts) == 5
    assert {
        "name": "on-deletion",
        "bucket": "my-bucket",
        "url": "s3://my-bucket/on-deletion",
    } in artifacts
    assert [m["kind"] for m in messages] == [
        "thread.started",
        "turn.started",
        "command_execution",
        "command_execution",
        "agent_message",
        "turn.completed",
    ]
    assert "vincent-fixture" in messages[3]["content"]


def _artifact_count(db: Database, run_id: int) -> int:
    with db.transaction() as tx:
        row = tx.one(
            "SELECT count(*) AS n FROM codex_judge.artifacts WHERE run_id = :id", id=run_id
        )
    assert row is not None
    return int(row["n"])


def test_a_completion_stores_its_artifacts_for_a_new_run_and_a_notified_one(db: Database) -> None:
    fresh = _record(db, _completion("uid-new", issue=1)).run
    with db.transaction() as tx:
        runs.record_notify(tx, "uid-notified", {"workflow_uid": "uid-notified"})
    notified = _record(db, _completion("uid-notified", issue=2)).run
    assert (fresh.status, notified.status) == ("waiting_for_ci", "waiting_for_ci")
    assert _artifact_count(db, fresh.id) == 5 == _artifact_count(db, notified.id)


def test_a_completion_racing_another_of_the_same_workflow_is_recorded_on_its_run(
    db: Database,
) -> None:
    """Two completions of one workflow (Argo's repeated events, a later finishedAt) at once:
    the second waits on the first's uncommitted run, then claims its completion on that run
    instead of inserting a second one or failing."""
    results: dict[str, Any] = {}
    with db.transaction() as tx:
        first = runs.record_completion(tx, _completion("uid-r"))

        def other() -> None:
            results["b"] = _record(db, _completion("uid-r", finished_at="2022-08-01T22:31:00Z"))

        worker = threading.Thread(target=other)
        worker.start()
        _wait_for_a_lock_waiter(db)
    worker.join(timeout=10)
    second = results["b"]
    assert not second.duplicate and second.run.id == first.run.id
    assert second.run.finished_at is not None and second.run.finished_at.minute == 31
    with db.transaction() as tx:
        counts = tx.one(
            "SELECT (SELECT count(*) FROM codex_judge.runs) AS runs,"
            " (SELECT count(*) FROM codex_judge.run_completions) AS completions"
        )
    assert counts == {"runs": 1, "completions": 2}
