"""The sealed decision record, failure fingerprints, repeated failures, mergeable re-polls and
``codex-judge explain``, over real HTTP with the fake GitHub seeded from recorded payloads."""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
from pathlib import Path
from typing import Any

import httpx

from functions.judge.usecase import decide_run
from shared.bootstrap import Container
from shared.cli.main import cmd_explain
from shared.db import Database
from shared.local.fakes.base import ServedFake
from shared.runs.seal import load_seal, read_live, seal_matches
from shared.runtime.outcomes import Context, NoReply, Reply
from tests.functional.judge.test_judge import (
    CI_FAILURE,
    CI_SUCCESS,
    PR,
    REPO,
    REVIEW_OK,
    SHA,
    ci_concluded,
    github,
    insert_run,
    seed,
)

__all__ = ["github"]

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
CHECK_RUN = json.loads(
    (CORPUS / "github-webhooks" / "check_run.completed.success.octokit.json").read_text()
)["check_run"]
THREAD = {
    "id": "PRRT_kwDOAbc123",
    "isResolved": True,
    "isOutdated": False,
    "path": "pydicom/pixel_data_handlers/numpy_handler.py",
    "line": 10,
    "comments": {"nodes": [{"author": {"login": "chatgpt-codex-connector[bot]"}, "body": "ok"}]},
}


def seed_checks(fake: ServedFake, conclusion: str = "success") -> None:
    state = httpx.get(f"{fake.url}/_fake/state").json()
    run = copy.deepcopy(CHECK_RUN)
    run.update(head_sha=SHA, conclusion=conclusion)
    run["app"].setdefault("slug", "octoapp")  # the octokit example's app has no slug
    state["check_runs"] = {f"{REPO}@{SHA}": [run]}
    state["review_threads"] = {f"{REPO}#{PR}": [THREAD]}
    httpx.put(f"{fake.url}/_fake/state", json=state).raise_for_status()


def context(deps: Container, tx: Any) -> Context:
    return Context(
        tx=tx, deps=deps, consumer="judge", log=logging.LoggerAdapter(logging.getLogger("t"))
    )


def test_pass_is_sealed_with_checks_threads_and_matches_the_live_state(
    function_url: Any, github: ServedFake, db: Database, deps: Container
) -> None:
    seed_checks(github)
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    assert ci_concluded(function_url("judge"), run_id).json()["decision"] == "pass"
    with db.transaction() as tx:
        sealed = load_seal(tx, run_id)
    assert sealed is not None and sealed.head_sha == SHA and sealed.decision == "pass"
    assert [(c.id, c.app, c.conclusion) for c in sealed.check_runs or []] == [
        (CHECK_RUN["id"], "octoapp", "success")
    ]
    assert [(t.id, t.resolved) for t in sealed.review_threads or []] == [(THREAD["id"], True)]
    assert sealed.diff_source == "github" and len(sealed.policy_hash or "") == 64
    live = read_live(deps.github(), REPO, PR, SHA)
    assert seal_matches(sealed, live) == []
    seed_checks(github, conclusion="failure")  # CI changed after judging
    drift = seal_matches(sealed, read_live(deps.github(), REPO, PR, SHA))
    assert [(d.field, d.sealed, d.live, d.blocking) for d in drift] == [
        (f"check_runs[{CHECK_RUN['name']}@octoapp]", "success", "failure", True)
    ]


def test_same_failure_on_consecutive_attempts_is_a_repeated_failure(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    url = function_url("judge")
    log = {"summary": "tried", "log_excerpt": "FAILED tests/test_x.py::test_y - assert 3 == 4"}
    first = insert_run(db, ci=CI_FAILURE, notify=log)
    body = ci_concluded(url, first, "ci-a", verdict="failure").json()
    assert body["decision"] == "needs_iteration"
    with db.transaction() as tx:
        second = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,"
            " attempt, head_sha, pr_number, ci_verdict, ci_summary, notify_payload) VALUES"
            " ('uid-3b', 'waiting_for_review', 'Succeeded', :repo, 3, 2, :sha, :pr, 'failure',"
            " CAST(:ci AS jsonb), CAST(:notify AS jsonb)) RETURNING id",
            repo=REPO,
            sha=SHA,
            pr=PR,
            ci=json.dumps(CI_FAILURE),
            notify=json.dumps(
                {
                    "summary": "again",
                    "log_excerpt": "FAILED tests/test_x.py::test_y - assert 5 == 9",
                }
            ),
        )
    assert second is not None
    body = ci_concluded(url, second["id"], "ci-b", verdict="failure").json()
    assert body["decision"] == "needs_human"
    assert [r["code"] for r in body["reasons"]][:2] == ["repeated_failure", "ci_failed"]
    assert "Since attempt 1:" in body["next_prompt"]
    assert "still failing: failing check unit-tests" in body["next_prompt"]


def test_a_different_failure_names_what_changed_and_iterates(
    function_url: Any, github: ServedFake, db: Database
) -> None:
    url = function_url("judge")
    first = insert_run(db, ci=CI_FAILURE)
    ci_concluded(url, first, "ci-a", verdict="failure")
    ci_lint = {**CI_FAILURE, "failing": ["lint"]}
    with db.transaction() as tx:
        second = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,"
            " attempt, head_sha, pr_number, ci_verdict, ci_summary) VALUES ('uid-3c',"
            " 'waiting_for_review', 'Succeeded', :repo, 3, 2, :sha, :pr, 'failure',"
            " CAST(:ci AS jsonb)) RETURNING id",
            repo=REPO,
            sha=SHA,
            pr=PR,
            ci=json.dumps(ci_lint),
        )
    assert second is not None
    body = ci_concluded(url, second["id"], "ci-b", verdict="failure").json()
    assert body["decision"] == "needs_iteration"
    assert "- fixed: failing check unit-tests" in body["next_prompt"]
    assert "- new: failing check lint" in body["next_prompt"]


def test_unknown_mergeable_state_schedules_a_poll_and_times_out_to_a_person(
    function_url: Any, github: ServedFake, db: Database, deps: Container
) -> None:
    seed(github, mergeable_state="unknown")
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    assert ci_concluded(function_url("judge"), run_id).status_code == 202
    with db.transaction() as tx:
        timer = tx.one(
            "SELECT owner, kind FROM runtime.timers WHERE run_id = :id AND done_at IS NULL",
            id=run_id,
        )
        assert timer == {"owner": "judge", "kind": "mergeable_poll"}
        assert isinstance(decide_run(context(deps, tx), run_id), NoReply)
        outcome = decide_run(context(deps, tx), run_id, mergeable_timed_out=True)
    assert isinstance(outcome, Reply)
    assert outcome.data.model_dump()["reasons"][0]["code"] == "mergeable_unknown"


def test_a_known_mergeable_state_on_re_poll_decides_and_retires_the_timer(
    function_url: Any, github: ServedFake, db: Database, deps: Container
) -> None:
    seed(github, mergeable_state="unknown")
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    ci_concluded(function_url("judge"), run_id)
    seed(github, mergeable_state="clean")
    with db.transaction() as tx:
        ctx = context(deps, tx)
        outcome = decide_run(ctx, run_id)
        pending = tx.one(
            "SELECT count(*) AS n FROM runtime.timers WHERE run_id = :id AND done_at IS NULL",
            id=run_id,
        )
    assert isinstance(outcome, Reply) and ctx.extensions_out["decision"] == "pass"
    assert pending == {"n": 0}


def test_explain_prints_the_sealed_record(
    function_url: Any, github: ServedFake, db: Database, deps: Container, capsys: Any
) -> None:
    seed_checks(github)
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    ci_concluded(function_url("judge"), run_id)
    os.environ["DATABASE_URL"] = deps.settings.database_url or ""
    try:
        assert cmd_explain(argparse.Namespace(run=run_id)) == 0
    finally:
        del os.environ["DATABASE_URL"]
    out = capsys.readouterr().out
    assert f"Run {run_id}  {REPO} issue #3 attempt 1  PR #{PR}" in out
    assert "Decision: pass  (judge offline)" in out
    assert f"head SHA        {SHA}" in out
    assert f"- {CHECK_RUN['name']} [check_run octoapp #{CHECK_RUN['id']}]: success" in out
    assert f"- {THREAD['id']}: resolved" in out
