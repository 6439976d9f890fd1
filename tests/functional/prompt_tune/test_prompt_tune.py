"""prompt-tune over real HTTP with the fake GitHub (write routes): threshold, actionable
suggestions, cooldown and duplicates → exactly one prompt-tuning PR with its evidence."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.db import Database
from shared.local.fakes import github as fake_github
from shared.local.fakes.base import ServedFake, serve_fake
from shared.models.events import JUDGE_DECIDED
from shared.settings import Settings

REPO = "python/cpython"
BASE_SHA = "8d2b1a5a7f3cb1cce4b1f0e0a9a47d4bb1d1c0de"
TEMPLATE = ".codex/prompt.md"


@pytest.fixture
def github() -> Iterator[ServedFake]:
    state = {
        "pulls": {
            f"{REPO}#1": {
                "number": 1,
                "state": "open",
                "head": {"ref": "codex/issue-7", "sha": "02a87ce98d14f4d9d6e72ade7b4146201657bb33"},
                "base": {"ref": "main", "sha": BASE_SHA},
            }
        },
        "contents": {
            REPO: {
                "main": {
                    TEMPLATE: {"content": "You are Codex. Implement the issue.\n"},
                    ".github/pull_request_template.md": {"content": "## Summary\n\n## Tests\n"},
                }
            }
        },
    }
    served = serve_fake(fake_github.create_app(state))
    yield served
    served.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, github: ServedFake) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        github_api_url=github.url,
        llm_base_url=None,
        github_write_allowlist=[REPO],
    )


def _seed(
    db: Database, count: int, code: str = "ci_failed", *, first: int = 1, pr_state: bool = True
) -> list[int]:
    """``count`` runs of REPO with a failed evaluation each; returns their ids."""
    ids = []
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r, CAST(:d AS jsonb))"
            " ON CONFLICT (repository) DO NOTHING",
            r=REPO,
            d=json.dumps({"dry_run": False, "prompt_tuning_threshold": 3}),
        )
        if pr_state:
            tx.run(
                "INSERT INTO github.pr_state (repository, pr_number, base_ref, base_sha)"
                " VALUES (:r, 1, 'main', :sha) ON CONFLICT DO NOTHING",
                r=REPO,
                sha=BASE_SHA,
            )
        for n in range(first, first + count):
            row = tx.one(
                "INSERT INTO codex_judge.runs (workflow_uid, repository, issue_number, attempt,"
                " base_ref, pr_number, status, reason) VALUES (:uid, :r, :issue, 1, 'main', 1,"
                " 'needs_iteration', :code) RETURNING id",
                uid=f"uid-{n}",
                r=REPO,
                issue=100 + n,
                code=code,
            )
            assert row is not None
            tx.run(
                "INSERT INTO codex_judge.evaluations (run_id, stage, decision, reasons,"
                " judge_kind, policy_hash) VALUES (:id, 'final', 'needs_iteration',"
                " CAST(:reasons AS jsonb), 'deterministic', 'h')",
                id=row["id"],
                reasons=json.dumps([{"code": code, "message": "tests (3.12) failed"}]),
            )
            ids.append(int(row["id"]))
    return ids


def _post(url: str, event_id: str, run_id: int) -> httpx.Response:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/codex-judge/judge",
        "ce-type": JUDGE_DECIDED,
        "ce-decision": "needs_iteration",
        "content-type": "application/json",
    }
    data = {
        "run_id": run_id,
        "evaluation_id": run_id,
        "decision": "needs_iteration",
        "judge_kind": "deterministic",
        "repository": REPO,
    }
    return httpx.post(url, headers=headers, content=json.dumps(data))


def _state(fake: ServedFake) -> dict[str, Any]:
    return dict(httpx.get(f"{fake.url}/_fake/state").json())


def test_repeated_failures_open_exactly_one_prompt_tuning_pr(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    runs = _seed(db, 3)
    url = function_url("prompt_tune")

    answers = [_post(url, f"evt-{r}", r) for r in runs] + [_post(url, f"evt-{runs[0]}", runs[0])]

    assert [a.status_code for a in answers] == [202, 202, 202, 202]
    state = _state(github)
    assert len(state["created_pulls"]) == 1
    pull = state["created_pulls"][0]
    assert pull["body"].startswith("## Summary"), "the body starts from the PR template"
    branch = pull["head"]["ref"]
    files = state["contents"][REPO][branch]
    assert "Run the repository's tests and linters" in files[TEMPLATE]["content"]
    evidence = next(v["content"] for k, v in files.items() if k.startswith(".codex/prompt-tuning"))
    for run_id in runs:
        assert f"| {run_id} |" in evidence
    with db.transaction() as tx:
        rows = tx.all("SELECT state, failure_count, pr_number FROM codex_judge.prompt_tuning")
    assert rows == [{"state": "opened", "failure_count": 3, "pr_number": pull["number"]}]


def test_below_the_threshold_nothing_is_opened_until_it_is_reached(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    url = function_url("prompt_tune")
    first = _seed(db, 2)
    _post(url, "evt-a", first[-1])
    assert _state(github)["created_pulls"] == []

    third = _seed(db, 1, first=3)
    _post(url, "evt-b", third[0])
    assert len(_state(github)["created_pulls"]) == 1


def test_cooldown_holds_back_a_second_pr(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    url = function_url("prompt_tune")
    _post(url, "evt-a", _seed(db, 3)[-1])
    later = _seed(db, 3, "requirements_missing", first=10)
    _post(url, "evt-b", later[-1])

    assert len(_state(github)["created_pulls"]) == 1


def test_generic_reasons_alone_never_open_a_pr(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    runs = _seed(db, 4, "judge_abstained")
    _post(function_url("prompt_tune"), "evt-a", runs[-1])

    assert _state(github)["created_pulls"] == []
    with db.transaction() as tx:
        assert tx.one("SELECT count(*) AS n FROM codex_judge.prompt_tuning") == {"n": 0}


def test_contents_are_sent_base64_encoded_through_the_contents_api(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    _post(function_url("prompt_tune"), "evt-a", _seed(db, 3)[-1])

    requests = httpx.get(f"{github.url}/_fake/requests").json()["requests"]
    puts = [r for r in requests if r["method"] == "PUT" and "/contents/" in r["path"]]
    assert len(puts) == 2
    text = base64.b64decode(puts[0]["json"]["content"]).decode()
    assert text.startswith("You are Codex.") and puts[0]["json"]["sha"]


def test_without_a_projected_pr_the_base_head_is_read_from_github(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    runs = _seed(db, 3, pr_state=False)
    url = function_url("prompt_tune")
    for run_id in runs:
        assert _post(url, f"evt-{run_id}", run_id).status_code == 202
    state = _state(github)
    assert len(state["created_pulls"]) == 1
    log = httpx.get(f"{github.url}/_fake/requests").json()["requests"]
    created = [r["json"] for r in log if r["method"] == "POST" and r["path"].endswith("/git/refs")]
    assert [c["sha"] for c in created] == [BASE_SHA]  # the branch starts at main's head
