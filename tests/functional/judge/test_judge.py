"""judge over real HTTP: real Postgres, the fake GitHub and the fake OpenAI API, recorded
payloads (a real PR object, a real SWE-bench patch, real chat completions)."""

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
from shared.local.fakes import openai as fake_openai
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app
from tests.support.cloudevents import post_event

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
_OPENED = json.loads(
    (CORPUS / "github-webhooks" / "pull_request.opened.cogni-delivery.json").read_text()
)
PULL = json.loads(base64.b64decode(_OPENED["body_raw_base64"]))["pull_request"]
REPO = "derekg1729/test-repo"
PR = int(PULL["number"])
SHA = PULL["head"]["sha"]
_TASK = json.loads(
    (CORPUS / "swe-bench" / "swe-bench-dev-easy.pydicom-1458.swe-agent.json").read_text()
)
GOLD_PATCH = (_TASK[0] if isinstance(_TASK, list) else next(iter(_TASK.values())))["patch"]
FILES = [
    {
        "filename": "pydicom/pixel_data_handlers/numpy_handler.py",
        "status": "modified",
        "additions": 10,
        "deletions": 2,
        "changes": 12,
        "patch": GOLD_PATCH,
    }
]
CI_SUCCESS = {
    "verdict": "success",
    "failing": [],
    "pending": [],
    "checks": [
        {
            "name": "build",
            "kind": "check_run",
            "app": "github-actions",
            "status": "completed",
            "conclusion": "success",
            "details_url": None,
        }
    ],
}
CI_FAILURE = {
    "verdict": "failure",
    "failing": ["unit-tests"],
    "pending": [],
    "checks": [
        {
            "name": "unit-tests",
            "kind": "check_run",
            "app": "github-actions",
            "status": "completed",
            "conclusion": "failure",
            "details_url": "https://github.com/o/r/runs/1",
        }
    ],
}
REVIEW_OK = {
    "verdict": "approved",
    "reviewers": ["chatgpt-codex-connector[bot]"],
    "unresolved_threads": [],
    "next_prompt": None,
}


@pytest.fixture
def github(deps: Container) -> Iterator[ServedFake]:
    fake = serve_fake(create_app())
    deps.settings.github_api_url = fake.url
    seed(fake)
    yield fake
    fake.stop()


def seed(
    fake: ServedFake, *, files: list[dict[str, Any]] | None = None, mergeable_state: str = "clean"
) -> None:
    pull = copy.deepcopy(PULL)
    pull.update(mergeable=mergeable_state != "dirty", mergeable_state=mergeable_state)
    httpx.put(
        f"{fake.url}/_fake/state",
        json={
            "pulls": {f"{REPO}#{PR}": pull},
            "pull_files": {f"{REPO}#{PR}": FILES if files is None else files},
        },
    ).raise_for_status()


def insert_run(
    db: Database,
    *,
    status: str = "waiting_for_review",
    phase: str = "Succeeded",
    ci: dict[str, Any] | None = None,
    review: dict[str, Any] | None = None,
    reason: str | None = None,
    notify: dict[str, Any] | None = None,
    issue: int = 3,
) -> int:
    with db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, reason, repository,"
            " issue_number, attempt, head_sha, pr_number, ci_verdict, ci_summary,"
            " review_verdict, review_summary, notify_payload) VALUES (:uid, :status, :phase,"
            " :reason, :repo, :issue, 1, :sha, :pr, :ci_verdict, CAST(:ci AS jsonb),"
            " :review_verdict, CAST(:review AS jsonb), CAST(:notify AS jsonb)) RETURNING id",
            uid=f"uid-{issue}",
            issue=issue,
            status=status,
            phase=phase,
            reason=reason,
            repo=REPO,
            sha=SHA,
            pr=PR,
            ci_verdict=ci["verdict"] if ci else None,
            ci=json.dumps(ci),
            review_verdict=review["verdict"] if review else None,
            review=json.dumps(review),
            notify=json.dumps(notify or {"summary": "Fixed the pixel data handler"}),
        )
    assert row is not None
    return int(row["id"])


def ci_concluded(
    url: str, run_id: int, event_id: str = "ci-1", verdict: str = "success"
) -> httpx.Response:
    return post_event(
        url,
        "io.codexjudge.ci.concluded.v1",
        {
            "run_id": run_id,
            "repository": REPO,
            "head_sha": SHA,
            "pr_number": PR,
            "verdict": verdict,
        },
        event_id,
    )


def run_completed(
    url: str, run_id: int, status: str = "waiting_for_ci", phase: str = "Succeeded"
) -> httpx.Response:
    return post_event(
        url,
        "io.codexjudge.run.completed.v1",
        {
            "run_id": run_id,
            "workflow_uid": "uid-j",
            "phase": phase,
            "status": status,
            "repository": REPO,
            "head_sha": SHA,
            "pr_number": PR,
        },
        "rc-1",
    )


def evaluations(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT e.id, e.decision, e.judge_kind, e.policy_hash, e.inputs, e.model,"
            " r.status, r.decision AS run_decision, r.reason"
            " FROM codex_judge.evaluations e JOIN codex_judge.runs r ON r.id = e.run_id"
        )


def test_offline_judge_passes_when_gates_ci_and_review_pass(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    resp = ci_concluded(function_url("judge"), run_id)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-type"] == "io.codexjudge.judge.decided.v1"
    body = resp.json()
    assert body["decision"] == "pass" and body["judge_kind"] == "offline"
    assert "offline judge" in body["reasons"][0]["message"]
    [evaluation] = evaluations(db)
    assert evaluation["status"] == "merging" and evaluation["run_decision"] == "pass"
    assert resp.headers["ce-decision"] == "pass"
    assert evaluation["inputs"]["head_sha"] == SHA and len(evaluation["inputs"]["diff_hash"]) == 64
    assert len(evaluation["policy_hash"]) == 64


def test_one_decision_and_one_reply_per_run_and_head_sha(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    url = function_url("judge")
    first = ci_concluded(url, run_id, "ci-1")
    redelivered = ci_concluded(url, run_id, "ci-1")  # the same event: answered from the inbox
    second = ci_concluded(url, run_id, "ci-2")
    third = post_event(
        url,
        "io.codexjudge.review.concluded.v1",
        {
            "run_id": run_id,
            "repository": REPO,
            "pr_number": PR,
            "head_sha": SHA,
            "verdict": "approved",
        },
        "rv-1",
    )
    assert first.status_code == redelivered.status_code == 200
    assert first.headers["ce-id"] == redelivered.headers["ce-id"]
    assert first.json() == redelivered.json()
    # Another trigger for the decided run publishes no second judge.decided (issue 12).
    assert second.status_code == third.status_code == 202
    assert "ce-id" not in second.headers and "ce-id" not in third.headers
    assert len(evaluations(db)) == 1


def test_ci_failure_needs_iteration_with_the_failing_checks_in_the_prompt(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(db, ci=CI_FAILURE)
    resp = ci_concluded(function_url("judge"), run_id, verdict="failure")
    body = resp.json()
    assert body["decision"] == "needs_iteration" and body["reasons"][0]["code"] == "ci_failed"
    assert "- unit-tests: failure (https://github.com/o/r/runs/1)" in body["next_prompt"]
    assert evaluations(db)[0]["status"] == "needs_iteration"


def test_waiting_for_review_is_not_a_decision(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(db, ci=CI_SUCCESS)
    assert ci_concluded(function_url("judge"), run_id).status_code == 202
    assert evaluations(db) == []


def test_conflict_markers_decide_at_run_completion(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(
        github,
        files=[
            {
                "filename": "setup.py",
                "status": "modified",
                "patch": "@@ -1,2 +1,6 @@\n+<<<<<<< HEAD\n+a = 1\n+=======\n+a = 2\n+>>>>>>> main",
            }
        ],
    )
    run_id = insert_run(db, status="waiting_for_ci")
    body = run_completed(function_url("judge"), run_id).json()
    assert body["decision"] == "needs_iteration"
    assert [r["code"] for r in body["reasons"]] == ["conflict_markers"]
    assert "setup.py" in body["next_prompt"]


def test_empty_diff_fails_unless_the_agent_declared_a_no_op(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(github, files=[])
    url = function_url("judge")
    noop_run = insert_run(db, status="waiting_for_ci", notify={"summary": "[no-op] already done"})
    assert run_completed(url, noop_run).status_code == 202
    with db.transaction() as tx:
        tx.run("UPDATE codex_judge.runs SET status = 'superseded' WHERE id = :id", id=noop_run)
    run_id = insert_run(db, status="waiting_for_ci", issue=4)
    resp = post_event(
        url,
        "io.codexjudge.run.completed.v1",
        {
            "run_id": run_id,
            "workflow_uid": "uid-j",
            "phase": "Succeeded",
            "status": "waiting_for_ci",
        },
        "rc-2",
    )
    assert resp.json()["reasons"][0]["code"] == "empty_diff"


def test_patch_apply_failure_in_the_log_excerpt_decides_at_once(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    run_id = insert_run(
        db,
        status="waiting_for_ci",
        notify={
            "summary": "done",
            "log_excerpt": "error: patch failed: pydicom/config.py:12\n"
            "error: pydicom/config.py: patch does not apply",
        },
    )
    body = run_completed(function_url("judge"), run_id).json()
    assert body["reasons"][0]["code"] == "patch_apply_failed"


def test_run_without_metadata_is_sealed_needs_human_at_once(
    function_url: Any, db: Database
) -> None:
    run_id = insert_run(db, status="needs_human", reason="missing_run_metadata")
    body = run_completed(function_url("judge"), run_id, status="needs_human").json()
    assert body["decision"] == "needs_human"
    assert body["reasons"][0]["code"] == "missing_run_metadata"
    assert evaluations(db)[0]["judge_kind"] == "deterministic"


def test_failed_workflow_needs_iteration(function_url: Any, db: Database) -> None:
    run_id = insert_run(db, status="waiting_for_ci", phase="Failed")
    body = run_completed(function_url("judge"), run_id, phase="Failed").json()
    assert body["decision"] == "needs_iteration"
    assert body["reasons"][0]["code"] == "workflow_failed"


def test_dirty_mergeable_state_is_a_merge_conflict(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    seed(github, mergeable_state="dirty")
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    body = ci_concluded(function_url("judge"), run_id).json()
    assert body["decision"] == "needs_iteration"
    assert body["reasons"][0]["code"] == "merge_conflict"


def _completion(name: str, content: str | None = None) -> dict[str, Any]:
    body = json.loads((CORPUS / "openai" / name).read_text())
    if content is not None:
        body["choices"][0]["message"]["content"] = content
    return dict(body)


@pytest.fixture
def llm(deps: Container) -> Iterator[ServedFake]:
    fake = serve_fake(fake_openai.create_app())
    deps.settings.llm_base_url = f"{fake.url}/v1"
    yield fake
    fake.stop()


def test_llm_judge_retries_a_refusal_then_passes_with_a_valid_verdict(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    verdict = {
        "decision": "pass",
        "confidence": 0.9,
        "missing_items": [],
        "next_prompt": "",
        "reasons": ["The handler now reads the pixel data as the issue asks."],
    }
    httpx.put(
        f"{llm.url}/_fake/state",
        json={
            "responses": [
                _completion("chat.completion.refusal.openai-python.json"),
                _completion(
                    "chat.completion.structured-output.success.openai-python.json",
                    json.dumps(verdict),
                ),
            ]
        },
    ).raise_for_status()
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    body = ci_concluded(function_url("judge"), run_id).json()
    assert body["decision"] == "pass" and body["judge_kind"] == "llm"
    [evaluation] = evaluations(db)
    assert evaluation["model"] == "gpt-4o-2024-08-06"
    assert evaluation["inputs"]["attempt_errors"][0].startswith("refusal")
    request = httpx.get(f"{llm.url}/_fake/requests").json()["requests"][-1]["json"]
    assert request["response_format"]["json_schema"]["strict"] is True
    assert "untrusted data" in request["messages"][1]["content"]


def test_llm_output_that_never_validates_goes_to_a_person(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    wrong = _completion("chat.completion.structured-output.success.openai-python.json")
    httpx.put(f"{llm.url}/_fake/state", json={"default": wrong}).raise_for_status()
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    body = ci_concluded(function_url("judge"), run_id).json()
    assert body["decision"] == "needs_human"
    assert body["reasons"][0]["code"] == "judge_unavailable"
    assert evaluations(db)[0]["status"] == "needs_human"
