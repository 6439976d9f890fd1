"""rerun over real HTTP with the fake Facteur and fake Argo: attempt cap, durable backoff,
bounded submission retries and one submission per attempt under duplicates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.db import Database
from shared.local.fakes import argo as fake_argo
from shared.local.fakes import facteur as fake_facteur
from shared.local.fakes.base import ServedFake, serve_fake
from shared.models.events import JUDGE_DECIDED
from shared.settings import Settings
from tests.support.cloudevents import post_timers_due
from tests.support.cut_after import recording_sink

REPO = "python/cpython"
SHA = "02a87ce98d14f4d9d6e72ade7b4146201657bb33"  # the recorded cpython PR #1 head


@pytest.fixture
def facteur() -> Iterator[ServedFake]:
    served = serve_fake(fake_facteur.create_app())
    yield served
    served.stop()


@pytest.fixture
def argo() -> Iterator[ServedFake]:
    served = serve_fake(fake_argo.create_app())
    yield served
    served.stop()


@pytest.fixture
def sink() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A stand-in for the Broker ingress (K_SINK) that records published CloudEvents."""
    with recording_sink() as recorded:
        yield recorded


@pytest.fixture
def settings(
    database_url: str,
    tmp_path: Path,
    facteur: ServedFake,
    argo: ServedFake,
    sink: tuple[str, list[dict[str, str]]],
) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        github_api_url="http://127.0.0.1:9",
        llm_base_url=None,
        facteur_url=facteur.url,
        argo_server_url=argo.url,
        k_sink=sink[0],
    )


def _policy(db: Database, **document: Any) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r, CAST(:d AS jsonb))"
            " ON CONFLICT (repository) DO UPDATE SET document = EXCLUDED.document",
            r=REPO,
            d=json.dumps({"dry_run": False, "rerun_target": "facteur", **document}),
        )


def _run(db: Database, *, attempt: int = 2, labels: dict[str, str] | None = None) -> int:
    ci = {
        "verdict": "failure",
        "failing": ["tests (3.12)"],
        "checks": [
            {
                "name": "tests (3.12)",
                "kind": "check_run",
                "status": "completed",
                "conclusion": "failure",
                "details_url": "https://github.com/python/cpython/runs/1",
            }
        ],
    }
    review = {
        "verdict": "unresolved_threads",
        "unresolved_threads": [
            {
                "thread_id": "T1",
                "path": "Lib/os.py",
                "line": 12,
                "author": "copilot",
                "body": "Handle None.",
            }
        ],
    }
    with db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, namespace, repository, issue_number,"
            " attempt, head_sha, head_ref, base_ref, pr_number, status, labels, ci_summary,"
            " review_summary) VALUES (:uid, 'argo', :repo, 7, :attempt, :sha, 'codex/issue-7',"
            " 'main', 1, 'needs_iteration', CAST(:labels AS jsonb), CAST(:ci AS jsonb),"
            " CAST(:review AS jsonb)) RETURNING id",
            uid=f"uid-{attempt}",
            repo=REPO,
            attempt=attempt,
            sha=SHA,
            labels=json.dumps(labels or {}),
            ci=json.dumps(ci),
            review=json.dumps(review),
        )
        assert row is not None
        return int(row["id"])


def _decided(run_id: int, attempt: int = 2) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "evaluation_id": 1,
        "decision": "needs_iteration",
        "judge_kind": "deterministic",
        "reasons": [{"code": "ci_failed", "message": "tests (3.12) failed"}],
        "next_prompt": "Fix the failing test in Lib/test/test_os.py.",
        "repository": REPO,
        "issue_number": 7,
        "attempt": attempt,
        "pr_number": 1,
        "head_sha": SHA,
    }


def _post(url: str, event_id: str, data: dict[str, Any]) -> httpx.Response:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/codex-judge/judge",
        "ce-type": JUDGE_DECIDED,
        "ce-decision": "needs_iteration",
        "content-type": "application/json",
    }
    return httpx.post(url, headers=headers, content=json.dumps(data))


def _tick(url: str, event_id: str) -> httpx.Response:
    """The scheduler's ``timers.due`` waking rerun on tick ``event_id``."""
    return post_timers_due(url, "rerun", event_id)


def _tasks(fake: ServedFake) -> list[dict[str, Any]]:
    return list(httpx.get(f"{fake.url}/_fake/state").json()["tasks"])


def _make_due(db: Database) -> None:
    """Time passes: every pending rerun timer becomes due."""
    with db.transaction() as tx:
        tx.run(
            "UPDATE runtime.timers SET due_at = now() - interval '1 second'"
            " WHERE owner = 'rerun' AND done_at IS NULL"
        )


def _run_row(db: Database, run_id: int) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one("SELECT status, reason FROM codex_judge.runs WHERE id = :id", id=run_id)
    assert row is not None
    return row


def test_rerun_waits_for_its_backoff_then_submits_one_codex_task(
    function_url: Any, facteur: ServedFake, db: Database
) -> None:
    _policy(db, backoff_s=[120])
    run_id = _run(db)
    url = function_url("rerun")

    assert _post(url, "evt-1", _decided(run_id)).status_code == 202
    assert _tick(url, "tick-1").status_code == 202
    assert _tasks(facteur) == [], "nothing is submitted before the backoff has passed"

    _make_due(db)
    assert _tick(url, "tick-2").status_code == 202
    assert _tick(url, "tick-3").status_code == 202
    tasks = _tasks(facteur)
    assert len(tasks) == 1
    task = tasks[0]
    assert task["stage"] == "CODEX_TASK_STAGE_IMPLEMENTATION"
    assert task["prompt"] == "Fix the failing test in Lib/test/test_os.py."
    assert task["delivery_id"] == f"rerun:{run_id}:3"
    assert (task["repository"], task["base"], task["head"]) == (REPO, "main", "codex/issue-7")
    assert task["issue_number"] == "7" and task["iteration"] == 3
    context = task["review_context"]
    assert context["failing_checks"][0]["name"] == "tests (3.12)"
    assert context["review_threads"][0]["summary"] == "Lib/os.py:12 Handle None."
    with db.transaction() as tx:
        row = tx.one("SELECT state, attempt FROM codex_judge.rerun_submissions")
    assert row == {"state": "submitted", "attempt": 3}


def test_duplicate_needs_iteration_submits_once_per_attempt(
    function_url: Any, facteur: ServedFake, db: Database
) -> None:
    _policy(db, backoff_s=[0])
    run_id = _run(db)
    url = function_url("rerun")

    first = _post(url, "evt-1", _decided(run_id))
    duplicate = _post(url, "evt-1", _decided(run_id))
    other_id = _post(url, "evt-2", _decided(run_id))

    assert first.status_code == 200
    assert first.headers["ce-type"] == "io.codexjudge.rerun.submitted.v1"
    assert duplicate.status_code == 200 and duplicate.headers["ce-id"] == first.headers["ce-id"]
    assert other_id.status_code == 202
    assert json.loads(first.content)["attempt"] == 3
    assert len(_tasks(facteur)) == 1
    with db.transaction() as tx:
        count = tx.one("SELECT count(*) AS n FROM codex_judge.rerun_submissions")
    assert count == {"n": 1}


def test_attempt_cap_escalates_with_attempts_exhausted(
    function_url: Any, facteur: ServedFake, db: Database
) -> None:
    _policy(db, max_attempts=3, backoff_s=[0])
    run_id = _run(db, attempt=3)

    answer = _post(function_url("rerun"), "evt-1", _decided(run_id, attempt=3))

    assert answer.status_code == 200
    assert answer.headers["ce-type"] == "io.codexjudge.run.escalated.v1"
    assert json.loads(answer.content)["reason"] == "attempts_exhausted"
    assert _run_row(db, run_id) == {"status": "needs_human", "reason": "attempts_exhausted"}
    assert _tasks(facteur) == []


def test_improvement_runs_never_trigger_another_run(
    function_url: Any, facteur: ServedFake, db: Database
) -> None:
    _policy(db, backoff_s=[0])
    run_id = _run(db, labels={"codex-judge.io/improvement": "true"})

    answer = _post(function_url("rerun"), "evt-1", _decided(run_id))

    assert answer.headers["ce-type"] == "io.codexjudge.run.escalated.v1"
    assert _run_row(db, run_id)["reason"] == "improvement_not_rerun"
    assert _tasks(facteur) == []


def test_failing_submissions_are_retried_a_bounded_number_of_times_then_escalate(
    function_url: Any,
    facteur: ServedFake,
    db: Database,
    sink: tuple[str, list[dict[str, str]]],
) -> None:
    _policy(db, backoff_s=[0], rerun_submit_max_attempts=2)
    httpx.put(f"{facteur.url}/_fake/state", json={"fail_next": 10})
    run_id = _run(db)
    url = function_url("rerun")

    assert _post(url, "evt-1", _decided(run_id)).status_code == 202  # try 1: Facteur 503
    assert _run_row(db, run_id)["status"] == "needs_iteration"
    _make_due(db)
    assert _tick(url, "tick-1").status_code == 202  # try 2: 503 again → give up
    _make_due(db)
    assert _tick(url, "tick-2").status_code == 202  # nothing left to try

    assert _run_row(db, run_id) == {"status": "needs_human", "reason": "submission_failed"}
    assert _tasks(facteur) == []
    requests = httpx.get(f"{facteur.url}/_fake/requests").json()["requests"]
    assert len(requests) == 2
    escalations = [h for h in sink[1] if h["ce-type"] == "io.codexjudge.run.escalated.v1"]
    assert len(escalations) == 1


def test_argo_target_submits_the_template_with_the_run_metadata_as_labels(
    function_url: Any, argo: ServedFake, db: Database
) -> None:
    _policy(db, backoff_s=[0], rerun_target="argo")
    run_id = _run(db, labels={"workflows.argoproj.io/workflow-template": "codex-implement"})

    answer = _post(function_url("rerun"), "evt-1", _decided(run_id))

    assert answer.status_code == 200
    submissions = httpx.get(f"{argo.url}/_fake/state").json()["submissions"]
    assert len(submissions) == 1
    body = submissions[0]
    assert body["resourceName"] == "codex-implement"
    labels = dict(p.split("=", 1) for p in body["submitOptions"]["labels"].split(","))
    assert labels["codex-judge.io/repository-owner"] == "python"
    assert labels["codex-judge.io/issue-number"] == "7"
    assert labels["codex-judge.io/attempt"] == "3"
    assert f"codex-judge.io/delivery-id=rerun:{run_id}:3" in body["submitOptions"]["annotations"]
    assert "attempt=3" in body["submitOptions"]["parameters"]


def test_dry_run_records_the_rerun_without_submitting(
    function_url: Any, facteur: ServedFake, db: Database
) -> None:
    _policy(db, backoff_s=[0], dry_run=True)
    run_id = _run(db)

    answer = _post(function_url("rerun"), "evt-1", _decided(run_id))

    assert json.loads(answer.content)["dry_run"] is True
    assert _tasks(facteur) == []
    with db.transaction() as tx:
        row = tx.one("SELECT state FROM codex_judge.rerun_submissions")
    assert row == {"state": "dry_run"}
