"""merge over real HTTP: real Postgres, the fake GitHub (reads and writes), a recorded real PR
(the Cogni ``pull_request.opened`` delivery) and a seal read from the same fake."""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app
from shared.models.events import JUDGE_DECIDED, PR_MERGED, RUN_ESCALATED
from shared.policy.resolution import effective_policy
from shared.runs.seal import Seal, read_live

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
_OPENED = json.loads(
    (CORPUS / "github-webhooks" / "pull_request.opened.cogni-delivery.json").read_text()
)
PULL = json.loads(base64.b64decode(_OPENED["body_raw_base64"]))["pull_request"]
REPO = "derekg1729/test-repo"
PR = int(PULL["number"])
SHA = PULL["head"]["sha"]
BRANCH = PULL["head"]["ref"]
MOVED_SHA = "f" * 40


@pytest.fixture
def github(deps: Container) -> Iterator[ServedFake]:
    fake = serve_fake(create_app())
    deps.settings.github_api_url = fake.url
    deps.settings.github_write_allowlist = [REPO]
    seed(fake)
    yield fake
    fake.stop()


def seed(fake: ServedFake, **pull_changes: Any) -> None:
    pull = copy.deepcopy(PULL)
    pull.update({"mergeable": True, "mergeable_state": "clean", **pull_changes})
    httpx.put(
        f"{fake.url}/_fake/state",
        json={
            "pulls": {f"{REPO}#{PR}": pull},
            "pull_files": {f"{REPO}#{PR}": [{"filename": "README.md", "status": "modified"}]},
        },
    ).raise_for_status()


def set_policy(db: Database, **document: Any) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r, CAST(:d AS jsonb))"
            " ON CONFLICT (repository) DO UPDATE SET document = EXCLUDED.document",
            r=REPO,
            d=json.dumps(document),
        )


def judged_run(deps: Container, *, seal: bool = True) -> int:
    """A run the judge passed: status merging, its evaluation sealed against the fake now."""
    with deps.db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,"
            " attempt, head_sha, head_ref, base_ref, pr_number, decision) VALUES ('uid-m',"
            " 'merging', 'Succeeded', :repo, 3, 1, :sha, :head, :base, :pr, 'pass') RETURNING id",
            repo=REPO,
            sha=SHA,
            head=BRANCH,
            base=PULL["base"]["ref"],
            pr=PR,
        )
        assert row is not None
        _, policy_hash = effective_policy(tx, deps.settings, REPO)
        sealed = None
        if seal:
            live = read_live(deps.github(), REPO, PR, SHA)
            sealed = Seal(**live.model_dump(), pr_number=PR, decision="pass")
            sealed = sealed.model_copy(update={"policy_hash": policy_hash})
        tx.run(
            "INSERT INTO codex_judge.evaluations (run_id, stage, decision, judge_kind,"
            " policy_hash, seal) VALUES (:id, 'final', 'pass', 'offline', :hash,"
            " CAST(:seal AS jsonb))",
            id=row["id"],
            hash=policy_hash,
            seal=json.dumps(sealed.model_dump(mode="json")) if sealed else None,
        )
        return int(row["id"])


def post(url: str, run_id: int, event_id: str = "evt-1", decision: str = "pass") -> httpx.Response:
    data = {
        "run_id": run_id,
        "evaluation_id": 1,
        "decision": decision,
        "judge_kind": "offline",
        "repository": REPO,
        "pr_number": PR,
        "head_sha": SHA,
    }
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/codex-judge/judge",
        "ce-type": JUDGE_DECIDED,
        "ce-decision": decision,
        "content-type": "application/json",
    }
    return httpx.post(url, headers=headers, content=json.dumps(data), timeout=30)


def state(fake: ServedFake) -> dict[str, Any]:
    return dict(httpx.get(f"{fake.url}/_fake/state").json())


def writes_sent(fake: ServedFake) -> list[str]:
    requests = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    return [f"{r['method']} {r['path']}" for r in requests if r["method"] in ("PUT", "DELETE")]


def run_row(db: Database, run_id: int) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one("SELECT status, reason FROM codex_judge.runs WHERE id = :id", id=run_id)
    assert row is not None
    return row


def write_actions(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT action, mode, outcome, http_status, request FROM github.write_actions"
            " ORDER BY id"
        )


def test_a_pass_merges_at_the_judged_sha_deletes_the_branch_and_replies_pr_merged(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False)
    run_id = judged_run(deps)

    answer = post(function_url("merge"), run_id)

    assert answer.status_code == 200
    assert answer.headers["ce-type"] == PR_MERGED
    merges = state(github)["merges"]
    assert [(m["sha"], m["merge_method"]) for m in merges] == [(SHA, "squash")]
    assert answer.json()["merge_commit_sha"] == merges[0]["merge_commit_sha"]
    assert answer.json()["dry_run"] is False
    assert state(github)["deleted_refs"] == [f"{REPO}:refs/heads/{BRANCH}"]
    assert run_row(db, run_id) == {"status": "completed", "reason": "merged"}
    assert [
        (w["action"], w["mode"], w["outcome"], w["http_status"]) for w in write_actions(db)
    ] == [
        ("merge", "live", "merged", 200),
        ("delete_branch", "live", "deleted", 204),
    ]


def test_duplicate_and_concurrent_deliveries_merge_at_most_once(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False, deploy_mode="argocd", argocd_application="app")
    run_id = judged_run(deps)
    url = function_url("merge")
    answers: list[httpx.Response] = []

    def deliver(event_id: str) -> None:
        answers.append(post(url, run_id, event_id))

    threads = [threading.Thread(target=deliver, args=(f"evt-{i % 3}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    retried = [post(url, run_id, f"evt-{i}") for i in range(4)]

    assert {a.status_code for a in answers} <= {200, 409}
    assert [a.status_code for a in retried] == [200, 200, 200, 200]
    assert len(state(github)["merges"]) == 1
    assert writes_sent(github).count(f"PUT /repos/{REPO}/pulls/{PR}/merge") == 1
    assert {a.headers["ce-id"] for a in retried} | {
        a.headers["ce-id"] for a in answers if a.status_code == 200
    } == {retried[0].headers["ce-id"]}
    assert {a.json()["merge_commit_sha"] for a in retried} == {
        state(github)["merges"][0]["merge_commit_sha"]
    }
    assert run_row(db, run_id) == {"status": "deploying", "reason": "merged"}


def test_head_moved_after_judging_is_drift_and_nothing_is_merged(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False)
    run_id = judged_run(deps)
    seed(github, head={**PULL["head"], "sha": MOVED_SHA})

    answer = post(function_url("merge"), run_id)

    assert answer.status_code == 200
    assert answer.headers["ce-type"] == "io.codexjudge.run.escalated.v1"
    assert writes_sent(github) == []
    assert run_row(db, run_id) == {"status": "needs_human", "reason": "drift_after_judging"}


def test_a_push_racing_the_merge_gets_409_and_the_run_is_escalated_unmerged(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False)
    run_id = judged_run(deps)
    httpx.put(
        f"{github.url}/_fake/state",
        json={**state(github), "head_moves_on_merge": {f"{REPO}#{PR}": MOVED_SHA}},
    )

    answer = post(function_url("merge"), run_id)

    assert answer.status_code == 200
    assert state(github)["merges"] == []
    assert state(github)["deleted_refs"] == []
    assert run_row(db, run_id) == {"status": "needs_human", "reason": "drift_after_judging"}
    assert [(w["outcome"], w["http_status"]) for w in write_actions(db)] == [("head_moved", 409)]


def test_dry_run_records_the_would_be_merge_and_calls_nothing(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    run_id = judged_run(deps)  # no policy pack: dry_run is on by default

    answer = post(function_url("merge"), run_id)

    assert answer.status_code == 200
    assert answer.json()["dry_run"] is True and answer.json()["merge_commit_sha"] is None
    assert writes_sent(github) == []
    assert run_row(db, run_id) == {"status": "completed", "reason": "dry_run"}
    merge, delete = write_actions(db)
    assert [(w["action"], w["mode"], w["outcome"]) for w in (merge, delete)] == [
        ("merge", "dry_run", "dry_run"),
        ("delete_branch", "dry_run", "dry_run"),
    ]
    assert merge["request"] == {"pr_number": PR, "sha": SHA, "merge_method": "squash"}
    assert delete["request"] == {"branch": BRANCH}


def test_a_repository_off_the_allow_list_is_never_called_and_escalates(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False)
    deps.settings.github_write_allowlist = ["someone/else"]
    run_id = judged_run(deps)

    answer = post(function_url("merge"), run_id)

    assert answer.status_code == 200 and answer.headers["ce-type"] == RUN_ESCALATED
    assert answer.json()["reason"] == "repository_not_allowed"
    assert writes_sent(github) == []
    assert run_row(db, run_id) == {"status": "needs_human", "reason": "repository_not_allowed"}
    assert [(w["mode"], w["outcome"]) for w in write_actions(db)] == [
        ("refused", "repository_not_allowed")
    ]


def test_a_blocked_pull_request_405_is_escalated_with_githubs_reason(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False)
    seed(github, mergeable_state="blocked")
    run_id = judged_run(deps)

    answer = post(function_url("merge"), run_id)

    assert answer.status_code == 200
    assert answer.headers["ce-type"] == "io.codexjudge.run.escalated.v1"
    assert state(github)["merges"] == []
    assert run_row(db, run_id) == {"status": "needs_human", "reason": "not_mergeable"}
    assert [(w["outcome"], w["http_status"]) for w in write_actions(db)] == [("not_mergeable", 405)]


def test_a_pull_request_already_merged_at_the_judged_sha_is_success_without_a_call(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False, delete_branch=False)
    run_id = judged_run(deps)
    merged_sha = "a" * 40
    seed(github, state="closed", merged=True, merge_commit_sha=merged_sha)

    answer = post(function_url("merge"), run_id)

    assert answer.status_code == 200 and answer.json()["merge_commit_sha"] == merged_sha
    assert writes_sent(github) == []
    assert run_row(db, run_id) == {"status": "completed", "reason": "merged"}


def test_a_github_5xx_is_retried_and_the_retry_merges_once(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False)
    run_id = judged_run(deps)
    httpx.put(f"{github.url}/_fake/state", json={**state(github), "write_failures": {"merge": 1}})
    url = function_url("merge")

    failed = post(url, run_id)
    assert failed.status_code == 503
    assert run_row(db, run_id)["status"] == "merging"

    retried = post(url, run_id)
    assert retried.status_code == 200 and retried.headers["ce-type"] == PR_MERGED
    assert len(state(github)["merges"]) == 1
    with db.transaction() as tx:
        effect = tx.one("SELECT state, attempts FROM runtime.effects WHERE kind = 'github.merge'")
    assert effect == {"state": "done", "attempts": 2}


def test_a_decision_other_than_pass_merges_nothing(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False)
    run_id = judged_run(deps)

    answer = post(function_url("merge"), run_id, decision="needs_iteration")

    assert answer.status_code == 202
    assert writes_sent(github) == []
    assert run_row(db, run_id)["status"] == "merging"


def test_without_a_seal_a_moved_base_branch_is_drift(
    function_url: Any, github: ServedFake, deps: Container, db: Database
) -> None:
    set_policy(db, dry_run=False)
    run_id = judged_run(deps, seal=False)
    seed(github, base={**PULL["base"], "ref": "release"})

    answer = post(function_url("merge"), run_id)

    assert answer.status_code == 200
    assert answer.headers["ce-type"] == "io.codexjudge.run.escalated.v1"
    assert writes_sent(github) == []
    assert run_row(db, run_id) == {"status": "needs_human", "reason": "drift_after_judging"}
