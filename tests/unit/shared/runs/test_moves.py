"""The run aggregate's moves against a real Postgres: verdicts written once, escalations that
repeat the same answer, decisions recorded on the status they were sealed for, and the run as a
frozen value."""

from __future__ import annotations

import pydantic
import pytest

from shared import runs
from shared.db import Database
from tests.unit.shared.runs.test_runs import _completion, _record


def _waiting_run(db: Database) -> int:
    run = _record(db, _completion()).run
    assert run.status == "waiting_for_ci"
    return run.id


def _get(db: Database, run_id: int) -> runs.Run:
    with db.transaction() as tx:
        run = runs.get_run(tx, run_id)
    assert run is not None
    return run


def test_the_ci_verdict_is_written_once_and_moves_the_run_on_to_review(db: Database) -> None:
    run_id = _waiting_run(db)
    with db.transaction() as tx:
        first = runs.conclude_ci(tx, run_id, verdict="failure", summary={"failing": ["e2e"]})
        again = runs.conclude_ci(tx, run_id, verdict="success", summary={"failing": []})
    run = _get(db, run_id)
    assert (first, again) == (True, False)
    assert (run.status, run.ci_verdict, run.ci_summary) == (
        "waiting_for_review",
        "failure",
        {"failing": ["e2e"]},
    )
    assert run.ci_concluded_at is not None


def test_a_timed_out_ci_wait_concludes_only_a_run_still_waiting_for_ci(db: Database) -> None:
    run_id = _waiting_run(db)
    with db.transaction() as tx:
        runs.transition(
            tx, run_id, from_statuses=["waiting_for_ci"], to_status="waiting_for_review"
        )
        timed_out = runs.conclude_ci(
            tx, run_id, verdict="failure", summary={"reason": "ci_timeout"}, only_waiting=True
        )
        concluded = runs.conclude_ci(tx, run_id, verdict="success", summary={})
    assert (timed_out, concluded) == (False, True)
    assert _get(db, run_id).ci_verdict == "success"


def test_the_review_verdict_is_written_once_and_leaves_the_status(db: Database) -> None:
    run_id = _waiting_run(db)
    with db.transaction() as tx:
        first = runs.conclude_review(tx, run_id, verdict="approved", summary={"verdict": "x"})
        again = runs.conclude_review(tx, run_id, verdict="timed_out", summary={})
    run = _get(db, run_id)
    assert (first, again) == (True, False)
    assert (run.status, run.review_verdict) == ("waiting_for_ci", "approved")


def test_an_escalation_repeats_its_answer_and_never_moves_an_ended_run(db: Database) -> None:
    run_id = _waiting_run(db)
    with db.transaction() as tx:
        moved = runs.escalate(tx, run_id, reason="timer_failed")
        repeated = runs.escalate(tx, run_id, reason="timer_failed")
        other = runs.escalate(tx, run_id, reason="pull_request_not_found")
    assert moved is not None and repeated == moved
    assert (moved.status, moved.reason, moved.active, moved.terminal) == (
        "needs_human",
        "timer_failed",
        False,
        True,
    )
    assert other is None
    assert _get(db, run_id).reason == "timer_failed"


def test_an_escalation_from_given_statuses_leaves_a_run_in_another(db: Database) -> None:
    run_id = _waiting_run(db)
    with db.transaction() as tx:
        escalated = runs.escalate(tx, run_id, reason="merge_rejected", from_statuses=["merging"])
    assert escalated is None
    assert _get(db, run_id).status == "waiting_for_ci"


def test_a_decision_is_recorded_once_and_only_on_its_status(db: Database) -> None:
    run_id = _waiting_run(db)
    with db.transaction() as tx:
        wrong_status = runs.record_decision(tx, run_id, decision="pass", status="merging")
        recorded = runs.record_decision(tx, run_id, decision="needs_human", status="waiting_for_ci")
        again = runs.record_decision(tx, run_id, decision="pass", status="waiting_for_ci")
    assert (wrong_status, recorded, again) == (False, True, False)
    assert _get(db, run_id).decision == "needs_human"


def test_a_locked_run_is_a_frozen_value_not_a_row(db: Database) -> None:
    run_id = _waiting_run(db)
    with db.transaction() as tx:
        run = runs.lock(tx, run_id)
        missing = runs.lock(tx, run_id + 1000)
    assert run is not None and missing is None
    assert run.commit() == ("acme/widgets", run.head_sha)
    with pytest.raises(pydantic.ValidationError):
        run.status = "completed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        run["status"]  # type: ignore[index]
