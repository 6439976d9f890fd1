"""The LLM judge over real HTTP: recorded OpenAI bodies (json_schema success, refusal,
finish_reason length, an OpenRouter 429) served by the fake OpenAI API, SWE-bench Lite tasks as
the PR content, real Postgres for tokens, cost, ceilings and votes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes import openai as fake_openai
from shared.local.fakes.base import ServedFake, serve_fake
from tests.functional.judge.test_judge import (
    CI_SUCCESS,
    REPO,
    REVIEW_OK,
    ci_concluded,
    github,
    insert_run,
    seed,
)

__all__ = ["github"]  # the fixture, imported for pytest

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
LITE = json.loads((CORPUS / "swe-bench" / "swe-bench-lite-test.5-tasks.swe-agent.json").read_text())
TASK = next(t for t in LITE if t["instance_id"] == "sympy__sympy-13031")
GOLD_FILES = [
    {
        "filename": "sympy/matrices/sparse.py",
        "status": "modified",
        "additions": 4,
        "deletions": 2,
        "patch": TASK["patch"],
    }
]
_VCR_429 = yaml.safe_load(
    (CORPUS / "openai" / "vcr.chat.openai-compatible-openrouter-429.pydantic-ai.yaml").read_text()
)["interactions"][0]["response"]
RATE_LIMITED = {"status": 429, "body": _VCR_429["parsed_body"]}


def completion(name: str, verdict: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.loads((CORPUS / "openai" / name).read_text())
    if verdict is not None:
        body["choices"][0]["message"]["content"] = json.dumps(verdict)
    return dict(body)


def verdict(decision: str = "pass", confidence: float = 0.9, **extra: Any) -> dict[str, Any]:
    return {
        "decision": decision,
        "confidence": confidence,
        "missing_items": [] if decision == "pass" else ["handle zero-row matrices in hstack"],
        "next_prompt": "" if decision == "pass" else "Make hstack keep the column count.",
        "reasons": [f"the model answered {decision}"],
        "requirements": [
            {"requirement": "hstack of 0-row matrices", "met": decision == "pass", "evidence": "x"}
        ],
        "suggested_fixes": [],
        "prompt_tuning_suggestions": [],
        "system_suggestions": [],
        **extra,
    }


SUCCESS = "chat.completion.structured-output.success.openai-python.json"


@pytest.fixture
def llm(deps: Container) -> Iterator[ServedFake]:
    fake = serve_fake(fake_openai.create_app())
    deps.settings.llm_base_url = f"{fake.url}/v1"
    deps.settings.llm_retry_wait_cap_s = 0.0
    yield fake
    fake.stop()


def queue(fake: ServedFake, *responses: dict[str, Any]) -> None:
    httpx.put(f"{fake.url}/_fake/state", json={"responses": list(responses)}).raise_for_status()


def model_requests(fake: ServedFake) -> list[dict[str, Any]]:
    return [
        r["json"]
        for r in httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
        if r["path"].endswith("/chat/completions")
    ]


def swe_run(db: Database, *, issue: int = 7, attempt: int = 1, **kwargs: Any) -> int:
    notify = {
        "summary": "Fixed Matrix.hstack for zero-row matrices",
        "issue_title": "Behavior of Matrix hstack and vstack changed in sympy 1.1",
        "issue_body": TASK["problem_statement"],
    }
    return insert_run(db, notify=notify, issue=issue, **kwargs)


def evaluation(db: Database) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one(
            "SELECT e.*, r.status FROM codex_judge.evaluations e"
            " JOIN codex_judge.runs r ON r.id = e.run_id ORDER BY e.id DESC LIMIT 1"
        )
    assert row is not None
    return row


def policy(db: Database, document: dict[str, Any]) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r, CAST(:d AS jsonb))"
            " ON CONFLICT (repository) DO UPDATE SET document = EXCLUDED.document",
            r=REPO,
            d=json.dumps(document),
        )


def test_gold_patch_passes_with_tokens_and_cost_recorded(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database, deps: Container
) -> None:
    deps.settings.llm_input_cost_per_mtok = 2.5
    deps.settings.llm_output_cost_per_mtok = 10.0
    seed(github, files=GOLD_FILES)
    queue(llm, completion(SUCCESS, verdict("pass")))
    run_id = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    resp = ci_concluded(function_url("judge"), run_id)
    assert resp.json()["decision"] == "pass" and resp.headers["ce-decision"] == "pass"
    row = evaluation(db)
    assert row["status"] == "merging" and row["judge_kind"] == "llm"
    assert (row["prompt_tokens"], row["completion_tokens"], row["model_calls"]) == (79, 14, 1)
    assert float(row["cost_usd"]) == pytest.approx((79 * 2.5 + 14 * 10.0) / 1e6, abs=1e-6)
    assert row["inputs"]["requirements"][0]["met"] is True
    [request] = model_requests(llm)
    assert TASK["problem_statement"][:60] in request["messages"][1]["content"]
    assert request["response_format"]["json_schema"]["schema"]["additionalProperties"] is False


def test_judge_model_from_the_policy_is_sent(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    policy(db, {"judge_model": "gpt-4o-2024-08-06"})
    queue(llm, completion(SUCCESS, verdict("pass")))
    run_id = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    ci_concluded(function_url("judge"), run_id)
    assert model_requests(llm)[0]["model"] == "gpt-4o-2024-08-06"


def test_truncated_answer_is_retried_then_the_fail_verdict_sends_the_run_back(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    queue(
        llm,
        completion("chat.completion.finish-reason-length.openai-python.json"),
        completion(SUCCESS, verdict("fail", 0.8)),
    )
    run_id = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    body = ci_concluded(function_url("judge"), run_id).json()
    assert body["decision"] == "needs_iteration"
    assert body["reasons"][0]["code"] == "requirements_missing"
    assert "handle zero-row matrices in hstack" in body["next_prompt"]
    row = evaluation(db)
    assert row["inputs"]["attempt_errors"] == ["truncated: finish_reason length"]
    assert row["model_calls"] == 2 and row["fingerprint"] is not None


def test_rate_limited_model_is_retried_with_a_bound_then_recorded(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    queue(llm, RATE_LIMITED, RATE_LIMITED, RATE_LIMITED)
    run_id = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    resp = ci_concluded(function_url("judge"), run_id)
    assert resp.status_code == 200
    body = resp.json()
    assert body["decision"] == "needs_human"
    assert body["reasons"][0]["code"] == "judge_unavailable"
    assert body["reasons"][0]["message"].count("RateLimitedError") == 3
    assert len(model_requests(llm)) == 3


def test_server_error_then_a_valid_answer_passes(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    server_error = {"status": 503, "body": {"error": {"message": "overloaded", "type": "server"}}}
    queue(llm, server_error, completion(SUCCESS, verdict("pass")))
    run_id = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    assert ci_concluded(function_url("judge"), run_id).json()["decision"] == "pass"
    assert evaluation(db)["inputs"]["attempt_errors"][0].startswith("UpstreamError")


def test_self_consistency_majority_passes_with_lowered_confidence(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    policy(db, {"self_consistency_samples": 3, "min_confidence": 0.5})
    queue(
        llm,
        completion(SUCCESS, verdict("pass", 0.9)),
        completion(SUCCESS, verdict("fail", 0.7)),
        completion(SUCCESS, verdict("pass", 0.9)),
    )
    run_id = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    assert ci_concluded(function_url("judge"), run_id).json()["decision"] == "pass"
    row = evaluation(db)
    assert row["confidence"] == pytest.approx(0.6)
    assert [s["decision"] for s in row["inputs"]["samples"]] == ["pass", "fail", "pass"]


def test_disagreeing_samples_below_the_minimum_confidence_go_to_a_person(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    policy(db, {"self_consistency_samples": 3, "min_confidence": 0.8})
    queue(
        llm,
        completion(SUCCESS, verdict("pass", 0.9)),
        completion(SUCCESS, verdict("fail", 0.7)),
        completion(SUCCESS, verdict("pass", 0.9)),
    )
    run_id = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    body = ci_concluded(function_url("judge"), run_id).json()
    assert body["decision"] == "needs_human"
    assert body["reasons"][0]["code"] == "judge_abstained"


def test_daily_token_ceiling_stops_model_calls_with_a_clear_reason(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    policy(db, {"daily_token_ceiling": 2000})
    queue(llm, completion(SUCCESS, verdict("pass")))
    first = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK, issue=7)
    with db.transaction() as tx:  # an earlier evaluation today spent most of the ceiling
        other = insert_run(db, status="needs_human", issue=8)
        tx.run(
            "INSERT INTO codex_judge.evaluations (run_id, stage, decision, judge_kind, policy_hash,"
            " repository, prompt_tokens, completion_tokens) VALUES (:id, 'final', 'needs_human',"
            " 'llm', 'x', :repo, 1900, 50)",
            id=other,
            repo=REPO,
        )
    body = ci_concluded(function_url("judge"), first).json()
    assert body["decision"] == "needs_human"
    assert body["reasons"][0]["code"] == "daily_token_ceiling"
    assert model_requests(llm) == []


def test_empty_patch_of_a_swe_bench_task_fails_before_any_model_call(
    function_url: Any, github: ServedFake, llm: ServedFake, db: Database
) -> None:
    seed(github, files=[])
    queue(llm, completion(SUCCESS, verdict("pass")))
    run_id = swe_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    body = ci_concluded(function_url("judge"), run_id).json()
    assert body["decision"] == "needs_iteration"
    assert body["reasons"][0]["code"] == "empty_diff"
    assert model_requests(llm) == []
