"""ci-status over real HTTP: real Postgres, the fake GitHub over HTTP, recorded check shapes."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app
from tests.support.cloudevents import post_event

HOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "github-webhooks"
REPO = "derekg1729/test-repo"
SHA = "a69811586879ea72cb7657e555fcdb45cf96c6d6"
OTHER_SHA = "b47337c4ca1d0241a46b452efc902c18973b5ad6"


def _recorded(name: str) -> dict[str, Any]:
    raw = json.loads((HOOKS / name).read_text())
    if "body_raw_base64" in raw:
        raw = json.loads(base64.b64decode(raw["body_raw_base64"]))
    return dict(raw)


# A completed check run as GitHub sends it (a real delivery's object; REST has the same shape).
CHECK = _recorded("check_run.completed.skipped.cogni-delivery.json")["check_run"]


def check_run(run_id: int, name: str, conclusion: str | None, sha: str = SHA) -> dict[str, Any]:
    obj = copy.deepcopy(CHECK)
    obj.update(
        id=run_id,
        name=name,
        head_sha=sha,
        conclusion=conclusion,
        status="completed" if conclusion else "in_progress",
    )
    return obj


@pytest.fixture
def github(deps: Container) -> Iterator[ServedFake]:
    fake = serve_fake(create_app())
    deps.settings.github_api_url = fake.url
    yield fake
    fake.stop()


def seed(fake: ServedFake, state: dict[str, Any]) -> None:
    httpx.put(f"{fake.url}/_fake/state", json=state).raise_for_status()


def insert_run(db: Database, *, sha: str = SHA, pr: int = 166, issue: int = 7) -> int:
    with db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,"
            " attempt, head_sha, pr_number) VALUES (:uid, 'waiting_for_ci', 'Succeeded', :repo,"
            " :issue, 1, :sha, :pr) RETURNING id",
            uid=f"uid-{issue}",
            repo=REPO,
            issue=issue,
            sha=sha,
            pr=pr,
        )
    assert row is not None
    return int(row["id"])


def run_completed(url: str, run_id: int, event_id: str = "rc-1") -> httpx.Response:
    return post_event(
        url,
        "io.codexjudge.run.completed.v1",
        {
            "run_id": run_id,
            "workflow_uid": "uid",
            "phase": "Succeeded",
            "status": "waiting_for_ci",
            "repository": REPO,
            "head_sha": SHA,
            "pr_number": 166,
        },
        event_id,
    )


def run_row(db: Database, run_id: int) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one(
            "SELECT status, ci_verdict, ci_summary FROM codex_judge.runs WHERE id = :id", id=run_id
        )
    assert row is not None
    return row


def test_every_page_of_checks_and_the_commit_status_count(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    runs = [check_run(1000 + i, f"job-{i:03d}", "success") for i in range(120)]
    status = {
        "id": 1,
        "context": "ci/legacy",
        "state": "success",
        "target_url": None,
        "updated_at": "2025-10-12T00:05:00Z",
    }
    seed(github, {"check_runs": {f"{REPO}@{SHA}": runs}, "statuses": {f"{REPO}@{SHA}": [status]}})
    run_id = insert_run(db)
    resp = run_completed(function_url("ci_status"), run_id)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-type"] == "io.codexjudge.ci.concluded.v1"
    body = resp.json()
    assert body["verdict"] == "success" and len(body["checks"]) == 121
    row = run_row(db, run_id)
    assert row["status"] == "waiting_for_review" and row["ci_verdict"] == "success"


def test_a_failing_check_on_a_later_page_fails_ci_and_is_named(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    runs = [check_run(1000 + i, f"job-{i:03d}", "success") for i in range(110)]
    runs.append(check_run(5000, "Octocoders-linter", "failure"))
    seed(github, {"check_runs": {f"{REPO}@{SHA}": runs}})
    run_id = insert_run(db)
    resp = run_completed(function_url("ci_status"), run_id)
    assert resp.status_code == 200
    assert resp.json()["verdict"] == "failure"
    assert resp.json()["failing"] == ["Octocoders-linter"]


def test_zero_checks_stays_pending(function_url: Any, github: ServedFake, db: Database) -> None:
    run_id = insert_run(db)
    resp = run_completed(function_url("ci_status"), run_id)
    assert resp.status_code == 202
    assert run_row(db, run_id)["ci_verdict"] is None


def test_late_required_check_concludes_ci_when_its_event_arrives(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r,"
            " CAST(:d AS jsonb))",
            r=REPO,
            d=json.dumps({"required_checks": ["OpenSSF Scorecard (weekly)", "CodeQL"]}),
        )
    seed(
        github,
        {
            "check_runs": {
                f"{REPO}@{SHA}": [check_run(52530363735, "OpenSSF Scorecard (weekly)", "skipped")]
            }
        },
    )
    run_id = insert_run(db)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202
    late = _recorded("check_run.created.cogni-delivery.json")
    late["action"] = "completed"
    late["check_run"].update(
        status="completed", conclusion="success", completed_at="2025-10-12T00:09:00Z"
    )
    resp = post_event(url, "com.github.check_run.completed", late, "delivery-late")
    assert resp.status_code == 200, resp.text
    assert resp.json()["verdict"] == "success"
    assert resp.headers["ce-id"] == run_completed(url, run_id, "rc-2").headers["ce-id"]


def test_green_checks_on_another_commit_never_conclude_the_run(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(
        github,
        {"check_runs": {f"{REPO}@{OTHER_SHA}": [check_run(1, "build", "success", sha=OTHER_SHA)]}},
    )
    run_id = insert_run(db)
    url = function_url("ci_status")
    assert run_completed(url, run_id).status_code == 202
    stale = _recorded("check_run.completed.skipped.cogni-delivery.json")
    stale["check_run"].update(head_sha=OTHER_SHA, conclusion="success")
    assert post_event(url, "com.github.check_run.completed", stale, "d-stale").status_code == 202
    assert run_row(db, run_id)["ci_verdict"] is None
