"""review-gate over real HTTP: real Postgres, the fake GitHub (REST + GraphQL), recorded reviews."""

from __future__ import annotations

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
REPO = "kubernetes/kubernetes"
PR = 66686
BOT = "chatgpt-codex-connector[bot]"
APPROVED = json.loads((HOOKS / "pull_request_review.submitted.approved.prow.json").read_text())
SHA = APPROVED["review"]["commit_id"]
OLD_SHA = "0" * 40


def review(
    rid: int, login: str, state: str, submitted_at: str, sha: str = SHA, body: str = ""
) -> dict[str, Any]:
    """A REST review built from the recorded one (REST states are upper-case)."""
    obj = copy.deepcopy(APPROVED["review"])
    obj.update(id=rid, state=state, submitted_at=submitted_at, commit_id=sha, body=body)
    obj["user"] = dict(obj["user"], login=login)
    return dict(obj)


def thread(
    tid: str,
    author: str,
    *,
    resolved: bool = False,
    outdated: bool = False,
    path: str = "pkg/kubelet/kubelet.go",
    line: int = 10,
    body: str = "",
) -> dict[str, Any]:
    return {
        "id": tid,
        "isResolved": resolved,
        "isOutdated": outdated,
        "path": path,
        "line": line,
        "comments": {
            "nodes": [
                {
                    "author": {"login": author},
                    "body": body or f"please fix {tid}",
                    "url": f"https://github.com/{REPO}/pull/{PR}#discussion_{tid}",
                }
            ]
        },
    }


@pytest.fixture
def github(deps: Container) -> Iterator[ServedFake]:
    fake = serve_fake(create_app())
    deps.settings.github_api_url = fake.url
    deps.settings.ai_reviewer_logins = [BOT]
    yield fake
    fake.stop()


def seed(
    fake: ServedFake, reviews: list[dict[str, Any]], threads: list[dict[str, Any]] | None = None
) -> None:
    httpx.put(
        f"{fake.url}/_fake/state",
        json={
            "reviews": {f"{REPO}#{PR}": reviews},
            "review_threads": {f"{REPO}#{PR}": threads or []},
        },
    ).raise_for_status()


def insert_run(db: Database) -> int:
    with db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,"
            " attempt, head_sha, pr_number) VALUES ('uid-r', 'waiting_for_ci', 'Succeeded',"
            " :repo, 5, 1, :sha, :pr) RETURNING id",
            repo=REPO,
            sha=SHA,
            pr=PR,
        )
    assert row is not None
    return int(row["id"])


def run_completed(url: str, run_id: int, event_id: str = "rc-1") -> httpx.Response:
    return post_event(
        url,
        "io.codexjudge.run.completed.v1",
        {
            "run_id": run_id,
            "workflow_uid": "uid-r",
            "phase": "Succeeded",
            "status": "waiting_for_ci",
            "repository": REPO,
            "head_sha": SHA,
            "pr_number": PR,
        },
        event_id,
    )


def test_latest_ai_review_wins_over_an_old_changes_requested(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(
        github,
        [
            review(1, BOT, "CHANGES_REQUESTED", "2018-07-26T10:00:00Z", body="no"),
            review(2, BOT, "APPROVED", "2018-07-26T11:00:00Z"),
        ],
    )
    run_id = insert_run(db)
    resp = run_completed(function_url("review_gate"), run_id)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-type"] == "io.codexjudge.review.concluded.v1"
    assert resp.json()["verdict"] == "approved" and resp.json()["reviewers"] == [BOT]
    with db.transaction() as tx:
        row = tx.one("SELECT review_verdict FROM codex_judge.runs WHERE id = :id", id=run_id)
    assert row == {"review_verdict": "approved"}


def test_human_review_and_comment_never_count_as_the_ai_review(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(
        github,
        [
            review(1, "lavalamp", "APPROVED", "2018-07-26T10:00:00Z"),
            review(2, BOT, "APPROVED", "2018-07-20T10:00:00Z", sha=OLD_SHA),
        ],
    )
    run_id = insert_run(db)
    url = function_url("review_gate")
    assert run_completed(url, run_id).status_code == 202
    comment = json.loads((HOOKS / "issue_comment.created.on-pr.prow.json").read_text())
    comment["repository"]["full_name"] = REPO
    comment["issue"]["number"] = PR
    comment["comment"]["user"]["login"] = "octocat"
    resp = post_event(url, "com.github.issue_comment.created", comment, "d-comment")
    assert resp.status_code == 202
    with db.transaction() as tx:
        row = tx.one("SELECT review_verdict FROM codex_judge.runs WHERE id = :id", id=run_id)
        stored = tx.all("SELECT author FROM github.comments WHERE pr_number = :pr", pr=PR)
    assert row == {"review_verdict": None} and stored == [{"author": "octocat"}]


def test_unresolved_ai_threads_conclude_with_a_prompt_and_outdated_ones_are_ignored(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(
        github,
        [review(1, BOT, "COMMENTED", "2018-07-26T10:00:00Z")],
        [
            thread("T-b", BOT, path="pkg/b.go", line=3, body="nil check missing"),
            thread("T-old", BOT, outdated=True, body="stale remark"),
            thread("T-a", BOT, path="pkg/a.go", line=12, body="handle the error"),
            thread("T-h", "lavalamp", body="human nit"),
            thread("T-done", BOT, resolved=True),
        ],
    )
    run_id = insert_run(db)
    resp = run_completed(function_url("review_gate"), run_id)
    assert resp.status_code == 200
    body = resp.json()
    assert body["verdict"] == "unresolved_threads"
    assert [t["thread_id"] for t in body["unresolved_threads"]] == ["T-a", "T-b"]
    lines = body["next_prompt"].splitlines()
    assert lines[1].startswith(f"- pkg/a.go:12 ({BOT}): handle the error")
    assert lines[2].startswith(f"- pkg/b.go:3 ({BOT}): nil check missing")
    assert "stale remark" not in body["next_prompt"] and "human nit" not in body["next_prompt"]


def test_ai_review_event_concludes_a_waiting_run(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(github, [])
    run_id = insert_run(db)
    url = function_url("review_gate")
    assert run_completed(url, run_id).status_code == 202
    seed(github, [review(9, BOT, "APPROVED", "2018-07-26T12:00:00Z")])
    event = copy.deepcopy(APPROVED)
    event["review"]["user"]["login"] = BOT
    resp = post_event(url, "com.github.pull_request_review.submitted", event, "d-review")
    assert resp.status_code == 200, resp.text
    assert resp.json()["verdict"] == "approved"
    again = run_completed(url, run_id, "rc-again")
    assert again.status_code == 200 and again.headers["ce-id"] == resp.headers["ce-id"]


def test_a_dismissed_changes_requested_review_no_longer_blocks(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(github, [])
    run_id = insert_run(db)
    url = function_url("review_gate")
    assert run_completed(url, run_id).status_code == 202
    # GitHub REST keeps a dismissed review in the list with state DISMISSED.
    seed(
        github,
        [
            review(1, BOT, "APPROVED", "2018-07-26T10:00:00Z"),
            review(2, BOT, "DISMISSED", "2018-07-26T11:00:00Z", body="needs work"),
        ],
    )
    # The delivery: the recorded changes_requested payload as GitHub sends it on dismissal.
    dismissed = json.loads(
        (HOOKS / "pull_request_review.submitted.changes_requested.prow.json").read_text()
    )
    dismissed["action"] = "dismissed"
    dismissed["review"].update(id=2, state="dismissed", commit_id=SHA)
    dismissed["review"]["user"]["login"] = BOT
    dismissed["pull_request"]["number"] = PR
    dismissed["repository"]["full_name"] = REPO
    resp = post_event(url, "com.github.pull_request_review.dismissed", dismissed, "d-dismiss")
    assert resp.status_code == 200, resp.text
    assert resp.json()["verdict"] == "approved" and resp.json()["next_prompt"] is None


def test_a_comment_from_a_listed_login_never_finishes_the_ai_review(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(github, [])
    run_id = insert_run(db)
    url = function_url("review_gate")
    assert run_completed(url, run_id).status_code == 202
    comment = json.loads((HOOKS / "issue_comment.created.on-pr.prow.json").read_text())
    comment["repository"]["full_name"] = REPO
    comment["issue"]["number"] = PR
    comment["comment"]["user"]["login"] = BOT  # a listed login, typing a plain comment
    comment["comment"]["body"] = "Codex review: looks good to me"
    resp = post_event(url, "com.github.issue_comment.created", comment, "d-listed-comment")
    assert resp.status_code == 202
    with db.transaction() as tx:
        row = tx.one("SELECT review_verdict FROM codex_judge.runs WHERE id = :id", id=run_id)
    assert row == {"review_verdict": None}


def test_an_outdated_ai_thread_blocks_when_the_policy_says_so(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r,"
            " CAST(:d AS jsonb))",
            r=REPO,
            d=json.dumps({"outdated_threads_block": True}),
        )
    seed(
        github,
        [review(1, BOT, "COMMENTED", "2018-07-26T10:00:00Z")],
        [thread("T-old", BOT, outdated=True, body="this still leaks the file handle")],
    )
    run_id = insert_run(db)
    resp = run_completed(function_url("review_gate"), run_id)
    assert resp.status_code == 200
    assert resp.json()["verdict"] == "unresolved_threads"
    assert "this still leaks the file handle" in resp.json()["next_prompt"]
