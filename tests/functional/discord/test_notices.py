"""discord beyond decisions: success once merged and verified, escalations, deploy failures,
policy.discord_kinds, the retry bound, and bot-token mode (issue 5 "discord")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shared.db import Database
from shared.local.fakes.base import ServedFake
from shared.settings import Settings
from tests.support.cloudevents import post_event

REPO = "python/cpython"
SHA = "02a87ce98d14f4d9d6e72ade7b4146201657bb33"
MERGE_SHA = "9f1c2d3e4b5a69788796a5b4c3d2e1f009182736"


@pytest.fixture
def settings(database_url: str, tmp_path: Path, discord_fake: ServedFake) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        github_api_url="http://127.0.0.1:9",
        llm_base_url=None,
        discord_webhook_url=SecretStr(f"{discord_fake.url}/api/webhooks/4242/functional-token"),
        discord_max_attempts=2,
        discord_max_rate_limited=3,
    )


@pytest.fixture
def run_id(db: Database) -> int:
    with db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, repository, issue_number, attempt,"
            " head_sha, pr_number, status) VALUES ('uid-1', :repo, 7, 2, :sha, 1, 'deploying')"
            " RETURNING id",
            repo=REPO,
            sha=SHA,
        )
        assert row is not None
        return int(row["id"])


def _policy(db: Database, **document: Any) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document)"
            " VALUES (:r, CAST(:d AS jsonb))",
            r=REPO,
            d=json.dumps(document),
        )


def _post(url: str, event_id: str, event_type: str, data: dict[str, Any]) -> httpx.Response:
    return post_event(url, event_type, data, event_id, source="/codex-judge/test")


def _verified(run_id: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "repository": REPO,
        "pr_number": 1,
        "merge_commit_sha": MERGE_SHA,
        "mode": "argocd",
        "revision": MERGE_SHA,
    }


def _merged(run_id: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "repository": REPO,
        "pr_number": 1,
        "head_sha": SHA,
        "merge_commit_sha": MERGE_SHA,
        "merge_method": "squash",
    }


def _messages(fake: ServedFake) -> list[dict[str, Any]]:
    return list(httpx.get(f"{fake.url}/_fake/state").json()["messages"])


def test_success_is_posted_once_when_merged_and_verified(
    function_url: Any, discord_fake: ServedFake, run_id: int
) -> None:
    url = function_url("discord")
    verified = "io.codexjudge.deploy.verified.v1"
    answers = [
        _post(url, "evt-1", verified, _verified(run_id)),
        _post(url, "evt-1", verified, _verified(run_id)),
        _post(url, "evt-2", verified, _verified(run_id)),
    ]

    assert [a.status_code for a in answers] == [202, 202, 202]
    messages = _messages(discord_fake)
    assert len(messages) == 1
    assert "MERGED AND VERIFIED" in messages[0]["content"]
    assert f"<https://github.com/{REPO}/commit/{MERGE_SHA}>" in messages[0]["content"]
    assert f"<https://github.com/{REPO}/pull/1>" in messages[0]["content"]


def test_a_merge_is_success_only_without_a_deploy(
    function_url: Any, discord_fake: ServedFake, run_id: int, db: Database
) -> None:
    _policy(db, deploy_mode="argocd")
    url = function_url("discord")
    _post(url, "evt-1", "io.codexjudge.pr.merged.v1", _merged(run_id))
    assert _messages(discord_fake) == [], "deploy_mode argocd: success waits for the deploy"

    with db.transaction() as tx:
        tx.run("DELETE FROM codex_judge.policies")
    _policy(db, deploy_mode="none")
    _post(url, "evt-2", "io.codexjudge.pr.merged.v1", _merged(run_id))
    _post(url, "evt-3", "io.codexjudge.deploy.verified.v1", _verified(run_id))
    assert len(_messages(discord_fake)) == 1


def test_a_pass_decision_is_not_announced(
    function_url: Any, discord_fake: ServedFake, run_id: int
) -> None:
    data = {"run_id": run_id, "evaluation_id": 1, "decision": "pass", "judge_kind": "offline"}
    _post(function_url("discord"), "evt-1", "io.codexjudge.judge.decided.v1", data)
    assert _messages(discord_fake) == []


def test_escalations_and_deploy_failures_get_one_message_per_kind(
    function_url: Any, discord_fake: ServedFake, run_id: int
) -> None:
    url = function_url("discord")
    escalated = {"run_id": run_id, "reason": "attempts_exhausted", "message": "3 of 3 used"}
    failed = {
        **_verified(run_id),
        "reason": "verification_failed",
        "message": "e2e failed",
        "failing_tests": ["test_login"],
        "remedy": {
            "kind": "revert_pr",
            "outcome": "success",
            "url": f"https://github.com/{REPO}/pull/9",
        },
    }
    failed.pop("revision")
    _post(url, "evt-1", "io.codexjudge.run.escalated.v1", escalated)
    _post(url, "evt-2", "io.codexjudge.run.escalated.v1", escalated)
    _post(url, "evt-3", "io.codexjudge.deploy.failed.v1", failed)

    contents = [m["content"] for m in _messages(discord_fake)]
    assert len(contents) == 2
    assert "ATTEMPTS EXHAUSTED" in contents[0]
    assert "DEPLOY FAILED" in contents[1] and f"<https://github.com/{REPO}/pull/9>" in contents[1]
    assert "test_login" in contents[1]


def test_policy_discord_kinds_choose_what_is_posted(
    function_url: Any, discord_fake: ServedFake, run_id: int, db: Database
) -> None:
    _policy(db, discord_kinds=["success"])
    data = {
        "run_id": run_id,
        "evaluation_id": 1,
        "decision": "needs_human",
        "judge_kind": "offline",
    }
    _post(function_url("discord"), "evt-1", "io.codexjudge.judge.decided.v1", data)
    assert _messages(discord_fake) == []


def _deliver_escalation(url: str, run_id: int, *, times: int) -> list[int]:
    """Deliver the same ``run.escalated`` event (one id) ``times`` times, as Knative redelivers
    it; the answers' status codes."""
    escalated = {"run_id": run_id, "reason": "submission_failed", "message": "Facteur 503"}
    return [
        _post(url, "evt-1", "io.codexjudge.run.escalated.v1", escalated).status_code
        for _ in range(times)
    ]


def test_rate_limited_posts_are_retried_a_bounded_number_of_times(
    function_url: Any, discord_fake: ServedFake, run_id: int, db: Database
) -> None:
    httpx.put(f"{discord_fake.url}/_fake/state", json={"rate_limit_next": 10, "retry_after": 1})
    codes = _deliver_escalation(function_url("discord"), run_id, times=4)

    assert codes == [429, 429, 429, 202], "after discord_max_rate_limited the notice is dropped"
    requests = httpx.get(f"{discord_fake.url}/_fake/requests").json()["requests"]
    assert len(requests) == 3
    with db.transaction() as tx:
        effect = tx.one("SELECT state, failures, rate_limited, error FROM runtime.effects")
    assert effect is not None
    assert (effect["state"], effect["failures"], effect["rate_limited"]) == ("failed", 0, 3)
    assert "gave up after 0 failed posts and 3 rate-limited posts" in effect["error"]


def test_rate_limits_are_no_failed_posts_so_they_do_not_spend_discord_max_attempts(
    function_url: Any, discord_fake: ServedFake, run_id: int, db: Database
) -> None:
    """The seed-1 soak at 300 repositories: Discord answered one NEEDS HUMAN notice 429 three
    times (each "retry after 1 s"); counted as failed posts, they reached
    ``discord_max_attempts`` and the notice was dropped."""
    httpx.put(f"{discord_fake.url}/_fake/state", json={"rate_limit_next": 2, "retry_after": 1})
    codes = _deliver_escalation(function_url("discord"), run_id, times=3)

    assert codes == [429, 429, 202]
    assert len(_messages(discord_fake)) == 1
    with db.transaction() as tx:
        effect = tx.one("SELECT state, failures, rate_limited FROM runtime.effects")
    assert effect == {"state": "done", "failures": 0, "rate_limited": 2}


def test_failed_posts_are_retried_a_bounded_number_of_times(
    function_url: Any, discord_fake: ServedFake, run_id: int, db: Database
) -> None:
    refusal = {"status": 503, "method": "POST", "times": 5}
    httpx.post(f"{discord_fake.url}/_fake/faults", json=refusal).raise_for_status()
    codes = _deliver_escalation(function_url("discord"), run_id, times=3)

    assert codes == [503, 503, 202], "after discord_max_attempts the notice is dropped"
    assert _messages(discord_fake) == []
    with db.transaction() as tx:
        effect = tx.one("SELECT state, failures, rate_limited FROM runtime.effects")
    assert effect == {"state": "failed", "failures": 2, "rate_limited": 0}


def test_bot_token_mode_posts_to_the_channel(
    database_url: str, tmp_path: Path, discord_fake: ServedFake, serve: Any
) -> None:
    from shared import bootstrap
    from shared.adapters.discord import HttpxDiscord

    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        discord_bot_token=SecretStr("bot-secret"),
        discord_channel_id="1100000000000000001",
        discord_api_url=f"{discord_fake.url}/api/v10",
    )
    container = bootstrap.build(settings)
    try:
        adapter = container.discord()
        assert isinstance(adapter, HttpxDiscord)
        message = adapter.post("hello from bot mode")
    finally:
        container.db.close()

    assert message.id is not None
    request = httpx.get(f"{discord_fake.url}/_fake/requests").json()["requests"][0]
    assert request["path"] == "/api/v10/channels/1100000000000000001/messages"
    assert request["headers"]["Authorization"] == "Bot ***"
    assert _messages(discord_fake)[0]["content"] == "hello from bot mode"


def test_by_default_only_success_and_escalations_are_posted(
    function_url: Any, discord_fake: ServedFake, run_id: int
) -> None:
    url = function_url("discord")
    iteration = {
        "run_id": run_id,
        "evaluation_id": 1,
        "decision": "needs_iteration",
        "judge_kind": "offline",
        "next_prompt": "Fix the failing test.",
    }
    _post(url, "evt-1", "io.codexjudge.judge.decided.v1", iteration)
    assert _messages(discord_fake) == []
    escalation = {**iteration, "decision": "needs_human"}
    _post(url, "evt-2", "io.codexjudge.judge.decided.v1", escalation)
    assert len(_messages(discord_fake)) == 1
