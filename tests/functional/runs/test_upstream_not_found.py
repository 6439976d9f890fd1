"""An upstream "not found" is a recorded decision, and one bad timer never blocks the others
(issue 10; DESIGN §6), over real HTTP: the gates and the judge as served functions, real
CloudEvents, Postgres, the fake GitHub over HTTP and a Broker-ingress stand-in for K_SINK.

A pull request GitHub answers 404 for (deleted, repository renamed or made private, app
uninstalled) takes its run to ``needs_human`` with ``pull_request_not_found`` through
``run.completed`` and through a tick, never a dead letter; a timer whose handler fails is
recorded and backed off behind the others, and escalates its run after
:data:`shared.waits.failures.MAX_TIMER_ATTEMPTS` failures.
"""

from __future__ import annotations

from typing import Any

from shared.db import Database
from shared.local.fakes.base import ServedFake, fake_store
from shared.waits.failures import MAX_TIMER_ATTEMPTS
from tests.functional.ci_status.test_ci_status import REPO, SHA, insert_run
from tests.functional.waits import test_durable_waits as waits
from tests.functional.waits.test_durable_waits import (
    BOT,
    PR,
    Sink,
    make_due,
    run_completed,
    seed,
    tick,
    timers_of,
)
from tests.support.cloudevents import post_event

# The fake GitHub and the Broker-ingress stand-in of the durable-waits suite.
github = waits.github
sink = waits.sink

GONE_PR = 404
ESCALATED = "io.codexjudge.run.escalated.v1"
APPROVED = {
    "id": 80,
    "user": {"login": BOT, "type": "Bot"},
    "state": "APPROVED",
    "body": "LGTM",
    "commit_id": SHA,
    "submitted_at": "2025-10-12T00:10:00Z",
}


def refuse(fake: ServedFake, error: dict[str, Any]) -> None:
    """Arm a one-shot answer (status, path substring, body) without touching the seeded state."""
    fake_store(fake.server.app).state["errors"].append(error)


def run_state(db: Database, run_id: int) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one("SELECT status, reason FROM codex_judge.runs WHERE id = :id", id=run_id)
    assert row is not None
    return row


def timer_row(db: Database, run_id: int, owner: str, kind: str) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one(
            "SELECT attempts, last_error, done_at IS NULL AS pending,"
            " extract(epoch FROM due_at - now()) AS due_in_s FROM runtime.timers"
            " WHERE run_id = :id AND owner = :o AND kind = :k",
            id=run_id,
            o=owner,
            k=kind,
        )
    assert row is not None
    return row


def completed_for(url: str, run_id: int, pr: int, event_id: str) -> Any:
    data = {
        "run_id": run_id,
        "workflow_uid": f"uid-{run_id}",
        "phase": "Succeeded",
        "status": "waiting_for_ci",
        "repository": REPO,
        "head_sha": SHA,
        "pr_number": pr,
    }
    return post_event(url, "io.codexjudge.run.completed.v1", data, event_id)


def test_review_gate_escalates_a_pull_request_github_does_not_know(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    run_id = insert_run(db, pr=GONE_PR)
    url = function_url("review_gate")
    answer = completed_for(url, run_id, GONE_PR, "rc-gone")
    assert answer.status_code == 200  # a decision, never a 404 or a dead letter
    assert answer.headers["ce-type"] == ESCALATED
    body = answer.json()
    assert body["reason"] == "pull_request_not_found" and body["run_id"] == run_id
    assert f"{REPO}#{GONE_PR}" in body["message"]
    assert run_state(db, run_id) == {"status": "needs_human", "reason": "pull_request_not_found"}
    assert not any(timers_of(db, run_id).values())
    again = completed_for(url, run_id, GONE_PR, "rc-gone-2")  # a duplicate answers the same
    assert again.status_code == 200 and again.headers["ce-id"] == answer.headers["ce-id"]


def test_the_judge_seals_needs_human_for_a_pull_request_github_does_not_know(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(db, pr=GONE_PR)
    answer = completed_for(function_url("judge"), run_id, GONE_PR, "rc-judge")
    assert answer.status_code == 200 and answer.headers["ce-decision"] == "needs_human"
    reasons = [r["code"] for r in answer.json()["reasons"]]
    assert reasons == ["pull_request_not_found"]
    assert run_state(db, run_id) == {"status": "needs_human", "reason": "pull_request_not_found"}


def test_the_judge_seals_a_run_a_gate_escalated_with_the_same_reason(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    run_id = insert_run(db, pr=GONE_PR)
    assert completed_for(function_url("review_gate"), run_id, GONE_PR, "rc-1").status_code == 200
    answer = completed_for(function_url("judge"), run_id, GONE_PR, "rc-1")
    assert answer.status_code == 200 and answer.headers["ce-decision"] == "needs_human"
    assert [r["code"] for r in answer.json()["reasons"]] == ["pull_request_not_found"]


def test_ci_status_escalates_a_commit_github_answers_404_for(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(db)
    fake_store(github.server.app).state["graphql"] = {"missing_commits": [SHA]}
    answer = run_completed(function_url("ci_status"), run_id)
    assert answer.status_code == 200 and answer.headers["ce-type"] == ESCALATED
    assert answer.json()["reason"] == "commit_not_found"
    assert run_state(db, run_id)["status"] == "needs_human"


def test_a_pull_request_deleted_while_waiting_is_escalated_by_the_tick(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    seed(github, {"reviews": {f"{REPO}#{PR}": []}, "review_threads": {f"{REPO}#{PR}": []}})
    run_id = insert_run(db)
    url = function_url("review_gate")
    assert run_completed(url, run_id).status_code == 202  # waiting for the AI review
    seed(github, {"reviews": {}, "review_threads": {}})  # the PR is deleted on GitHub
    make_due(db, "review-gate", "reconcile")
    assert tick(url, owner="review-gate").status_code == 202
    [event] = sink.of_type("run.escalated.v1")
    assert event["reason"] == "pull_request_not_found" and event["run_id"] == run_id
    assert run_state(db, run_id) == {"status": "needs_human", "reason": "pull_request_not_found"}
    assert not any(timers_of(db, run_id).values())


def _two_waiting_runs(url: str, github: ServedFake, db: Database) -> tuple[int, int]:
    """A run on PR 167 whose reviews GitHub will refuse, first in line, and a healthy run on
    PR 166 whose AI review has come in; both wait in review-gate with their reconcile due."""
    bad_pr = PR + 1
    empty = {f"{REPO}#{n}": [] for n in (PR, bad_pr)}
    seed(github, {"reviews": dict(empty), "review_threads": dict(empty)})
    bad = insert_run(db, pr=bad_pr, issue=8)
    healthy = insert_run(db, pr=PR, issue=7)
    assert completed_for(url, bad, bad_pr, "rc-bad").status_code == 202
    assert completed_for(url, healthy, PR, "rc-healthy").status_code == 202
    seed(github, {"reviews": {**empty, f"{REPO}#{PR}": [APPROVED]}, "review_threads": empty})
    with db.transaction() as tx:  # the bad run's reconcile is due first
        tx.run(
            "UPDATE runtime.timers SET due_at = now() - make_interval(secs => CASE run_id"
            " WHEN :bad THEN 60 ELSE 30 END) WHERE owner = 'review-gate' AND kind = 'reconcile'",
            bad=bad,
        )
    return bad, healthy


def test_a_failing_timer_is_backed_off_behind_the_others_and_the_tick_goes_on(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    url = function_url("review_gate")
    bad, healthy = _two_waiting_runs(url, github, db)
    refused = {"message": "Validation Failed", "documentation_url": "https://docs.github.com"}
    refuse(
        github,
        {"status": 422, "path": "/graphql", "variables": {"number": PR + 1}, "body": refused},
    )
    assert tick(url, 1, owner="review-gate").status_code == 202
    [concluded] = sink.of_type("review.concluded.v1")
    assert concluded["run_id"] == healthy and concluded["verdict"] == "approved"
    failed = timer_row(db, bad, "review-gate", "reconcile")
    assert failed["pending"] and failed["attempts"] == 1
    assert "Validation Failed" in failed["last_error"]
    assert 50 <= float(failed["due_in_s"]) <= 61  # one minute, behind everything due now
    assert run_state(db, bad)["status"] == "waiting_for_ci"
    # The next tick does not retry it before its backoff: it stays at one attempt.
    assert tick(url, 2, owner="review-gate").status_code == 202
    assert timer_row(db, bad, "review-gate", "reconcile")["attempts"] == 1
    assert len(sink.events) == 1


def test_an_upstream_outage_for_one_timer_backs_it_off_and_answers_202(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    url = function_url("review_gate")
    bad, healthy = _two_waiting_runs(url, github, db)
    refuse(github, {"status": 502, "path": "/graphql", "variables": {"number": PR + 1}})
    assert tick(url, 1, owner="review-gate").status_code == 202
    assert [e["run_id"] for e in sink.of_type("review.concluded.v1")] == [healthy]
    failed = timer_row(db, bad, "review-gate", "reconcile")
    assert failed["attempts"] == 1 and "502" in failed["last_error"]


def test_a_timer_that_keeps_failing_escalates_its_run_once_published(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    url = function_url("review_gate")
    bad, _ = _two_waiting_runs(url, github, db)
    with db.transaction() as tx:  # it failed every time before
        tx.run(
            "UPDATE runtime.timers SET attempts = :n WHERE run_id = :id AND kind = 'reconcile'",
            n=MAX_TIMER_ATTEMPTS - 1,
            id=bad,
        )
    refuse(github, {"status": 422, "path": "/graphql", "variables": {"number": PR + 1}})
    sink.status = 503  # the Broker refuses the escalation: the timer stays due
    assert tick(url, 1, owner="review-gate").status_code == 503
    assert run_state(db, bad) == {"status": "needs_human", "reason": "timer_failed"}
    assert timer_row(db, bad, "review-gate", "reconcile")["pending"]
    sink.status = 202
    assert tick(url, 2, owner="review-gate").status_code == 202
    [escalated] = sink.of_type("run.escalated.v1")
    assert escalated["run_id"] == bad and escalated["reason"] == "timer_failed"
    assert f"failed {MAX_TIMER_ATTEMPTS} times" in escalated["message"]
    assert not timer_row(db, bad, "review-gate", "reconcile")["pending"]


def test_a_rate_limited_timer_waits_its_retry_after_and_leaves_the_rest_for_the_next_tick(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    url = function_url("review_gate")
    bad, healthy = _two_waiting_runs(url, github, db)
    limited = {"message": "You have exceeded a secondary rate limit"}
    refuse(
        github,
        {"status": 429, "path": "/graphql", "variables": {"number": PR + 1}, "body": limited},
    )
    assert tick(url, 1, owner="review-gate").status_code == 202
    assert 50 <= float(timer_row(db, bad, "review-gate", "reconcile")["due_in_s"]) <= 61
    assert sink.events == []  # no more requests into the limit this tick
    assert tick(url, 2, owner="review-gate").status_code == 202
    assert [e["run_id"] for e in sink.of_type("review.concluded.v1")] == [healthy]


def test_the_backoff_doubles_from_a_minute_and_stops_at_an_hour(db: Database) -> None:
    from shared.waits import timers

    run_id = insert_run(db)
    delays = []
    with db.transaction() as tx:
        timers.schedule(tx, owner="review-gate", run_id=run_id, kind="reconcile", delay_s=0)
        row = tx.one("SELECT id FROM runtime.timers WHERE run_id = :id", id=run_id)
        assert row is not None
        for _ in range(8):
            timers.record_failure(tx, int(row["id"]), error="boom")
            delay = tx.one(
                "SELECT extract(epoch FROM due_at - now()) AS s FROM runtime.timers WHERE id = :id",
                id=row["id"],
            )
            assert delay is not None
            delays.append(round(float(delay["s"])))
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600]
