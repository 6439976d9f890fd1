"""discord over real HTTP with the fake Discord webhook: one message per (run, decision)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shared.db import Database
from shared.local.fakes.base import ServedFake
from shared.models.events import JUDGE_DECIDED
from shared.settings import Settings
from tests.support.cloudevents import post_event

REPO = "python/cpython"
SHA = "02a87ce98d14f4d9d6e72ade7b4146201657bb33"  # the recorded cpython PR #1 head


@pytest.fixture
def settings(database_url: str, tmp_path: Path, discord_fake: ServedFake) -> Settings:
    """This module's settings: the test database and the fake Discord webhook."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        github_api_url="http://127.0.0.1:9",
        llm_base_url=None,
        discord_webhook_url=SecretStr(f"{discord_fake.url}/api/webhooks/4242/functional-token"),
    )


@pytest.fixture
def run_id(db: Database) -> int:
    with db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, repository, issue_number, attempt,"
            " head_sha, pr_number, pr_url, workflow_url, status, ci_summary)"
            " VALUES ('uid-1', :repo, 7, 2, :sha, 1, :pr_url, :wf, 'judging',"
            " CAST(:ci AS jsonb)) RETURNING id",
            repo=REPO,
            sha=SHA,
            pr_url=f"https://github.com/{REPO}/pull/1",
            wf="https://argo.example/workflows/codex/codex-run-abc12",
            ci=json.dumps({"verdict": "failure", "failing": ["tests (3.12)"]}),
        )
        assert row is not None
        # This repository opted in to a notice for every iteration (the default posts only
        # success and escalations).
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document)"
            " VALUES (:repo, CAST(:doc AS jsonb))",
            repo=REPO,
            doc=json.dumps({"discord_kinds": ["success", "needs_human", "needs_iteration"]}),
        )
        tx.run(
            "INSERT INTO codex_judge.artifacts (run_id, name, bucket, key)"
            " VALUES (:id, 'implementation-log', 'argo-artifacts', 'codex/run-abc12/log.tgz')",
            id=row["id"],
        )
        return int(row["id"])


def _decided(run_id: int, decision: str = "needs_iteration", **extra: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "evaluation_id": 1,
        "decision": decision,
        "judge_kind": "offline",
        "reasons": [{"code": "ci_failed", "message": "tests (3.12) failed"}],
        "next_prompt": "Fix the failing test in Lib/test/test_os.py.",
        "repository": REPO,
        "issue_number": 7,
        "attempt": 2,
        "pr_number": 1,
        "head_sha": SHA,
        **extra,
    }


def _post(url: str, event_id: str, data: dict[str, Any]) -> httpx.Response:
    return post_event(url, JUDGE_DECIDED, data, event_id, source="/codex-judge/judge")


def _messages(fake: ServedFake) -> list[dict[str, Any]]:
    return list(httpx.get(f"{fake.url}/_fake/state").json()["messages"])


def test_decision_is_posted_once_with_every_link(
    function_url: Any, discord_fake: ServedFake, run_id: int
) -> None:
    url = function_url("discord")
    first = _post(url, "evt-1", _decided(run_id))
    duplicate = _post(url, "evt-1", _decided(run_id))
    other_id_same_decision = _post(url, "evt-2", _decided(run_id))

    assert [first.status_code, duplicate.status_code, other_id_same_decision.status_code] == [
        202,
        202,
        202,
    ]
    messages = _messages(discord_fake)
    assert len(messages) == 1
    content = messages[0]["content"]
    assert f"<https://github.com/{REPO}/issues/7>" in content
    assert f"<https://github.com/{REPO}/pull/1>" in content
    assert f"<https://github.com/{REPO}/commit/{SHA}/checks>" in content
    assert "<https://argo.example/workflows/codex/codex-run-abc12>" in content
    assert "<s3://argo-artifacts/codex/run-abc12/log.tgz>" in content
    assert "ci_failed" in content and "Fix the failing test" in content


def test_a_different_decision_for_the_same_run_gets_its_own_message(
    function_url: Any, discord_fake: ServedFake, run_id: int
) -> None:
    url = function_url("discord")
    _post(url, "evt-1", _decided(run_id, "needs_iteration"))
    _post(url, "evt-2", _decided(run_id, "needs_human", next_prompt=None))
    assert len(_messages(discord_fake)) == 2


def test_discord_429_answers_429_and_the_retry_posts_once(
    function_url: Any, discord_fake: ServedFake, run_id: int, db: Database
) -> None:
    httpx.put(f"{discord_fake.url}/_fake/state", json={"rate_limit_next": 1, "retry_after": 3.2})
    url = function_url("discord")

    limited = _post(url, "evt-1", _decided(run_id))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert _messages(discord_fake) == []

    retried = _post(url, "evt-1", _decided(run_id))
    again = _post(url, "evt-1", _decided(run_id))
    assert (retried.status_code, again.status_code) == (202, 202)
    assert len(_messages(discord_fake)) == 1
    with db.transaction() as tx:
        effect = tx.one("SELECT state, attempts FROM runtime.effects")
    assert effect == {"state": "done", "attempts": 2}


def test_long_reasons_are_trimmed_but_links_are_kept(
    function_url: Any, discord_fake: ServedFake, run_id: int
) -> None:
    reasons = [{"code": f"requirement_{i}", "message": "missing " * 40} for i in range(20)]
    data = _decided(run_id, reasons=reasons, next_prompt="Please address:\n" + "x " * 2000)
    assert _post(function_url("discord"), "evt-1", data).status_code == 202
    content = _messages(discord_fake)[0]["content"]
    assert len(content) <= 2000
    assert f"<https://github.com/{REPO}/commit/{SHA}/checks>" in content
    assert "<s3://argo-artifacts/codex/run-abc12/log.tgz>" in content
    assert "requirement_0" in content and "Next prompt:" in content


def test_unknown_run_posts_nothing(function_url: Any, discord_fake: ServedFake) -> None:
    resp = _post(function_url("discord"), "evt-1", _decided(999))
    assert resp.status_code == 202
    assert _messages(discord_fake) == []


def test_invalid_decision_is_rejected_naming_the_field(
    function_url: Any, discord_fake: ServedFake, run_id: int
) -> None:
    resp = _post(function_url("discord"), "evt-1", _decided(run_id, decision="maybe"))
    assert resp.status_code == 422
    assert resp.json()["field"] == "data.decision"
    assert _messages(discord_fake) == []


def test_without_a_configured_webhook_nothing_is_posted(
    function_url: Any, deps: Any, discord_fake: ServedFake, run_id: int, db: Database
) -> None:
    deps.settings = deps.settings.model_copy(update={"discord_webhook_url": None})
    resp = _post(function_url("discord"), "evt-1", _decided(run_id))
    assert resp.status_code == 202
    assert _messages(discord_fake) == []
    with db.transaction() as tx:
        assert tx.all("SELECT 1 FROM runtime.effects") == []
