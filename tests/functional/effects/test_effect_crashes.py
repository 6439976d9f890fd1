"""A function that dies, or loses Postgres, between an outside call and its record never repeats
the call and never strands it (issue 10, DESIGN §5): the call is idempotent upstream (a
deterministic Argo workflow name), and the claim's recovery timer hands the event back to its
owner's tick when no redelivery comes.

Each case cuts the database at a chosen point of the effect (:mod:`tests.support.cut_after`):
after the upstream answered (the record fails) or before the request reaches it; then time
passes (the claim's lease and the recovery timer's delay are moved into the past, as the clock
would) and the event is redelivered or the owner ticks. The fakes' state and ``/_fake/requests``
count the upstream calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shared import bootstrap
from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes import argo as fake_argo
from shared.local.fakes import discord as fake_discord
from shared.local.fakes.base import ServedFake
from shared.models.events import JUDGE_DECIDED, RUN_ESCALATED
from shared.settings import Settings
from tests.support.cloudevents import post_event, post_timers_due
from tests.support.cut_after import CutDatabaseAt, served_cutting, through, time_passes
from tests.support.tcp_proxy import CuttableProxy

REPO = "python/cpython"
SHA = "02a87ce98d14f4d9d6e72ade7b4146201657bb33"


@pytest.fixture
def argo(proxy: CuttableProxy) -> Iterator[tuple[ServedFake, CutDatabaseAt]]:
    with served_cutting(fake_argo.create_app(), proxy) as served:
        yield served


@pytest.fixture
def discord(proxy: CuttableProxy) -> Iterator[tuple[ServedFake, CutDatabaseAt]]:
    with served_cutting(fake_discord.create_app(), proxy) as served:
        yield served


@pytest.fixture
def settings(
    database_url: str,
    proxy: CuttableProxy,
    tmp_path: Path,
    argo: tuple[ServedFake, CutDatabaseAt],
    discord: tuple[ServedFake, CutDatabaseAt],
    sink: tuple[str, list[dict[str, str]]],
) -> Settings:
    return Settings(
        database_url=through(proxy, database_url),
        data_dir=tmp_path,
        github_api_url="http://127.0.0.1:9",
        llm_base_url=None,
        argo_server_url=argo[0].url,
        discord_webhook_url=SecretStr(f"{discord[0].url}/api/webhooks/4242/crash-token"),
        k_sink=sink[0],
    )


@pytest.fixture
def direct(database_url: str) -> Iterator[Database]:
    """The database without the proxy: the test's own view, unaffected by the cut."""
    database = Database(database_url, size=1)
    yield database
    database.close()


def _rerun_run(db: Database) -> int:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document)"
            " VALUES (:r, CAST(:d AS jsonb))",
            r=REPO,
            d=json.dumps({"dry_run": False, "rerun_target": "argo", "backoff_s": [0]}),
        )
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, namespace, repository, issue_number,"
            " attempt, head_sha, head_ref, base_ref, pr_number, status, labels) VALUES"
            " ('uid-1', 'argo', :repo, 7, 1, :sha, 'codex/issue-7', 'main', 1,"
            " 'needs_iteration', CAST(:labels AS jsonb)) RETURNING id",
            repo=REPO,
            sha=SHA,
            labels=json.dumps({"workflows.argoproj.io/workflow-template": "codex-implement"}),
        )
    assert row is not None
    return int(row["id"])


def _decided(run_id: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "evaluation_id": 1,
        "decision": "needs_iteration",
        "judge_kind": "deterministic",
        "reasons": [{"code": "ci_failed", "message": "tests failed"}],
        "next_prompt": "Fix the failing test.",
        "repository": REPO,
        "issue_number": 7,
        "attempt": 1,
        "pr_number": 1,
        "head_sha": SHA,
    }


def _submit_requests(fake: ServedFake) -> list[dict[str, Any]]:
    requests = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    return [r for r in requests if r["method"] == "POST" and r["path"].endswith("/submit")]


def _accepted(fake: ServedFake) -> int:
    """Submissions the fake Argo accepted (a repeated name is answered 409, not recorded)."""
    return len(httpx.get(f"{fake.url}/_fake/state").json()["submissions"])


def _workflows(fake: ServedFake) -> dict[str, Any]:
    return dict(httpx.get(f"{fake.url}/_fake/state").json()["workflows"])


def _submission(db: Database) -> dict[str, Any] | None:
    with db.transaction() as tx:
        return tx.one("SELECT attempt, state, response FROM codex_judge.rerun_submissions")


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    """The functions' container: their database connections go through the proxy."""
    built: Container = bootstrap.build(settings)
    bootstrap.install(built)
    yield built
    bootstrap.install(None)
    built.db.close()


def _serve_function(serve: Any, name: str) -> str:
    import functions_framework

    from tests.conftest import ROOT

    app = functions_framework.create_app(
        target="handle", source=str(ROOT / "functions" / name / "main.py"), signature_type="http"
    )
    return str(serve(app).url)


@pytest.fixture
def rerun_url(container: Container, serve: Any) -> str:
    return _serve_function(serve, "rerun")


@pytest.fixture
def discord_url(container: Container, serve: Any) -> str:
    return _serve_function(serve, "discord")


def _after_argo_answered_the_submit(
    argo: tuple[ServedFake, CutDatabaseAt], proxy: CuttableProxy, url: str, run_id: int
) -> None:
    argo[1].after_answer(lambda method, path: method == "POST" and path.endswith("/submit"))
    first = post_event(url, JUDGE_DECIDED, _decided(run_id), "decided-1")
    assert first.status_code == 503, first.text  # the record failed: Knative retries
    assert len(_workflows(argo[0])) == 1  # … but Argo had accepted the submission
    proxy.restore()


def test_rerun_redelivered_after_a_lost_record_does_not_submit_twice(
    argo: tuple[ServedFake, CutDatabaseAt], proxy: CuttableProxy, rerun_url: str, direct: Database
) -> None:
    run_id = _rerun_run(direct)
    _after_argo_answered_the_submit(argo, proxy, rerun_url, run_id)
    time_passes(direct)  # the dead worker's claim has expired: the redelivery takes it over

    again = post_event(rerun_url, JUDGE_DECIDED, _decided(run_id), "decided-1")

    assert again.status_code == 200, again.text
    (name,) = _workflows(argo[0]).keys()
    assert (len(_submit_requests(argo[0])), _accepted(argo[0])) == (2, 1)
    submission = _submission(direct)
    assert submission is not None
    assert (submission["attempt"], submission["state"]) == (2, "submitted")
    assert f"argo/{submission['response']['name']}" == name
    assert json.loads(again.content)["workflow_name"] == submission["response"]["name"]


def test_rerun_without_a_redelivery_is_finished_by_the_next_tick(
    argo: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    rerun_url: str,
    direct: Database,
    sink: tuple[str, list[dict[str, str]]],
) -> None:
    run_id = _rerun_run(direct)
    _after_argo_answered_the_submit(argo, proxy, rerun_url, run_id)
    time_passes(direct)  # the decision is never redelivered (dead-lettered, or lost)

    tick = post_timers_due(rerun_url, "rerun", "tick-1")

    assert tick.status_code == 202, tick.text
    assert len(_workflows(argo[0])) == 1
    assert (len(_submit_requests(argo[0])), _accepted(argo[0])) == (2, 1)
    submission = _submission(direct)
    assert submission is not None and submission["state"] == "submitted"
    assert [h["ce-type"] for h in sink[1]] == ["io.codexjudge.rerun.submitted.v1"]
    with direct.transaction() as tx:
        pending = tx.all("SELECT kind FROM runtime.timers WHERE done_at IS NULL")
    assert pending == []  # nothing left owning a finished effect


def _escalated_run(db: Database) -> int:
    with db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, repository, issue_number, attempt,"
            " head_sha, pr_number, status, reason) VALUES ('uid-9', :repo, 9, 3, :sha, 2,"
            " 'needs_human', 'attempts_exhausted') RETURNING id",
            repo=REPO,
            sha=SHA,
        )
    assert row is not None
    return int(row["id"])


def _escalated(run_id: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "reason": "attempts_exhausted",
        "message": "attempt 3 of 3 needs iteration; no attempts left",
        "repository": REPO,
        "issue_number": 9,
        "attempt": 3,
    }


def _messages(fake: ServedFake) -> list[dict[str, Any]]:
    return list(httpx.get(f"{fake.url}/_fake/state").json()["messages"])


def _posts(fake: ServedFake) -> int:
    requests = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    return sum(1 for r in requests if r["method"] == "POST")


def test_discord_killed_before_the_post_loses_no_notice(
    discord: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    discord_url: str,
    direct: Database,
) -> None:
    run_id = _escalated_run(direct)
    discord[1].before_call(lambda method, path: method == "POST")
    first = post_event(discord_url, RUN_ESCALATED, _escalated(run_id), "escalated-1")
    assert first.status_code == 503, first.text
    assert _messages(discord[0]) == []
    proxy.restore()
    time_passes(direct)  # no redelivery: the event went to the dead-letter sink

    tick = post_timers_due(discord_url, "discord", "tick-1")

    assert tick.status_code == 202, tick.text
    (message,) = _messages(discord[0])
    assert "ATTEMPTS EXHAUSTED" in message["content"]
    with direct.transaction() as tx:
        effect = tx.one("SELECT state FROM runtime.effects WHERE kind = 'discord'")
        pending = tx.all("SELECT kind FROM runtime.timers WHERE done_at IS NULL")
    assert effect == {"state": "done"}
    assert pending == []


def test_discord_redelivery_meeting_a_dead_workers_claim_is_acknowledged_and_posted_once(
    discord: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    discord_url: str,
    direct: Database,
) -> None:
    run_id = _escalated_run(direct)
    discord[1].before_call(lambda method, path: method == "POST")
    first = post_event(discord_url, RUN_ESCALATED, _escalated(run_id), "escalated-1")
    assert first.status_code == 503, first.text
    proxy.restore()

    # While the dead worker's claim is fresh the redelivery is acknowledged, not 409'd until
    # the Trigger's retries run out: the claim's recovery timer owns the notice.
    during = post_event(discord_url, RUN_ESCALATED, _escalated(run_id), "escalated-1")
    assert during.status_code == 202, during.text
    assert _messages(discord[0]) == []
    time_passes(direct)
    tick = post_timers_due(discord_url, "discord", "tick-1")
    again = post_timers_due(discord_url, "discord", "tick-2")

    assert (tick.status_code, again.status_code) == (202, 202)
    assert len(_messages(discord[0])) == 1
    with direct.transaction() as tx:
        pending = tx.all("SELECT kind FROM runtime.timers WHERE done_at IS NULL")
    assert pending == []


@pytest.fixture
def deploy_url(container: Container, serve: Any) -> str:
    return _serve_function(serve, "deploy")


def _deploying_runs(db: Database, count: int) -> list[int]:
    """``count`` merged runs of REPO (PRs 1…count) whose policy deploys with an Argo workflow."""
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document)"
            " VALUES (:r, CAST(:d AS jsonb))",
            r=REPO,
            d=json.dumps(
                {
                    "dry_run": False,
                    "deploy_mode": "argo_workflow",
                    "deploy_workflow_template": "deploy-prod",
                    "verify_workflow_template": "e2e-verify",
                }
            ),
        )
        rows = [
            tx.one(
                "INSERT INTO codex_judge.runs (workflow_uid, namespace, repository, issue_number,"
                " attempt, head_sha, pr_number, status) VALUES (:uid, 'argo', :repo, :n, 1,"
                " :sha, :n, 'deploying') RETURNING id",
                uid=f"uid-deploy-{n}",
                repo=REPO,
                n=n,
                sha=SHA,
            )
            for n in range(1, count + 1)
        ]
    return [int(r["id"]) for r in rows if r is not None]


def _merged(run_id: int, pr: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "repository": REPO,
        "pr_number": pr,
        "head_sha": SHA,
        "merge_commit_sha": f"{pr:x}".rjust(40, "5"),
        "merge_method": "squash",
        "dry_run": False,
    }


def _deploy(db: Database, run_id: int) -> dict[str, Any] | None:
    with db.transaction() as tx:
        return tx.one(
            "SELECT state, deploy_workflow FROM codex_judge.deploys WHERE run_id = :id", id=run_id
        )


def test_a_recovery_timer_meeting_a_fresh_claim_waits_instead_of_dropping_the_notice(
    discord: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    discord_url: str,
    direct: Database,
) -> None:
    """The soak's lost NEEDS HUMAN notice: the recovery timer came due while a later worker's
    claim (a takeover, the timer armed by an earlier claim) was still fresh; the tick completed
    the timer as handled and nothing owned the notice any more."""
    run_id = _escalated_run(direct)
    discord[1].before_call(lambda method, path: method == "POST")
    first = post_event(discord_url, RUN_ESCALATED, _escalated(run_id), "escalated-1")
    assert first.status_code == 503, first.text
    proxy.restore()
    with direct.transaction() as tx:  # the timer is due; the dead worker's claim still fresh
        tx.run("UPDATE runtime.timers SET due_at = now() - interval '1 second'")

    early = post_timers_due(discord_url, "discord", "tick-1")

    assert early.status_code == 202, early.text
    assert _messages(discord[0]) == []
    with direct.transaction() as tx:
        waiting = tx.all("SELECT kind FROM runtime.timers WHERE done_at IS NULL")
    assert [t["kind"] for t in waiting] == [f"effect:discord:{run_id}:attempts_exhausted"]
    time_passes(direct)
    late = post_timers_due(discord_url, "discord", "tick-2")
    assert late.status_code == 202, late.text
    (message,) = _messages(discord[0])
    assert "ATTEMPTS EXHAUSTED" in message["content"]
    with direct.transaction() as tx:
        assert tx.all("SELECT kind FROM runtime.timers WHERE done_at IS NULL") == []


def test_workers_that_died_are_no_failed_posts_so_a_notice_is_not_dropped_for_them(
    discord: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    discord_url: str,
    direct: Database,
) -> None:
    """The soak's other lost NEEDS HUMAN notice: two workers lost their database before they
    could record (each claim taken over: ``attempts`` 2), then Discord answered one 429; the
    third claim reached ``discord_max_attempts`` (3) and the notice was dropped although
    Discord had refused it once. The bound counts failed posts only (``failures``; a 429 is
    counted apart, ``rate_limited``)."""
    run_id = _escalated_run(direct)
    for n in (1, 2):  # a worker that loses Postgres before the call: the claim stays, stale
        discord[1].before_call(lambda method, path: method == "POST")
        lost = post_event(discord_url, RUN_ESCALATED, _escalated(run_id), f"escalated-{n}")
        assert lost.status_code == 503, lost.text
        proxy.restore()
        time_passes(direct)
    refusal = {"status": 429, "method": "POST", "times": 1, "headers": {"Retry-After": "1"}}
    httpx.post(f"{discord[0].url}/_fake/faults", json=refusal).raise_for_status()
    refused = post_event(discord_url, RUN_ESCALATED, _escalated(run_id), "escalated-3")
    assert refused.status_code == 429, refused.text

    posted = post_event(discord_url, RUN_ESCALATED, _escalated(run_id), "escalated-3")

    assert posted.status_code == 202, posted.text
    (message,) = _messages(discord[0])
    assert "ATTEMPTS EXHAUSTED" in message["content"]
    with direct.transaction() as tx:
        effect = tx.one("SELECT state, attempts, failures, rate_limited FROM runtime.effects")
    assert effect == {"state": "done", "attempts": 4, "failures": 0, "rate_limited": 1}


def test_deploy_killed_after_argo_accepted_the_rollout_is_recorded_by_the_next_tick(
    argo: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    deploy_url: str,
    direct: Database,
) -> None:
    (run_id,) = _deploying_runs(direct, 1)
    argo[1].after_answer(lambda method, path: method == "POST" and path.endswith("/submit"))
    first = post_event(deploy_url, "io.codexjudge.pr.merged.v1", _merged(run_id, 1), "merged-1")
    assert first.status_code == 503, first.text
    (name,) = _workflows(argo[0])  # Argo runs the deploy workflow; the deploy row was lost
    proxy.restore()
    assert _deploy(direct, run_id) is None
    time_passes(direct)  # pr.merged is never redelivered

    tick = post_timers_due(deploy_url, "deploy", "tick-1")

    assert tick.status_code == 202, tick.text
    assert list(_workflows(argo[0])) == [name]
    # the repeat was answered 409 AlreadyExists: one workflow accepted, recorded as the deploy
    assert (len(_submit_requests(argo[0])), _accepted(argo[0])) == (2, 1)
    deploy = _deploy(direct, run_id)
    assert deploy is not None
    assert (deploy["state"], f"argo/{deploy['deploy_workflow']}") == ("deploying", name)
    with direct.transaction() as tx:
        pending = tx.all("SELECT kind FROM runtime.timers WHERE done_at IS NULL ORDER BY kind")
    assert [p["kind"] for p in pending] == ["deadline", "poll"]  # the rollout is watched


def test_one_deploy_timer_failing_for_good_does_not_block_the_others(
    argo: tuple[ServedFake, CutDatabaseAt], deploy_url: str, direct: Database
) -> None:
    bad, good = _deploying_runs(direct, 2)
    for run_id, pr in ((bad, 1), (good, 2)):
        merged = post_event(deploy_url, "io.codexjudge.pr.merged.v1", _merged(run_id, pr), f"m{pr}")
        assert merged.status_code == 202, merged.text
    workflows = httpx.get(f"{argo[0].url}/_fake/state").json()
    by_run = {
        int(w["metadata"]["labels"]["codex-judge.io/deploys-run"]): key
        for key, w in workflows["workflows"].items()
    }
    workflows["workflows"][by_run[good]].setdefault("status", {})["phase"] = "Succeeded"
    httpx.put(f"{argo[0].url}/_fake/state", json=workflows).raise_for_status()
    # Argo refuses to show the bad run's workflow, for good (a 403 is no outage).
    httpx.post(
        f"{argo[0].url}/_fake/faults",
        json={"status": 403, "method": "GET", "path": by_run[bad].split("/")[-1], "times": 5},
    ).raise_for_status()
    with direct.transaction() as tx:
        tx.run(
            "UPDATE runtime.timers SET due_at = now() - interval '1 second'"
            " WHERE owner = 'deploy' AND kind = 'poll' AND done_at IS NULL"
        )

    tick = post_timers_due(deploy_url, "deploy", "tick-1")

    assert tick.status_code == 202, tick.text
    healthy = _deploy(direct, good)
    assert healthy is not None and healthy["state"] == "verifying"  # verification submitted
    stuck = _deploy(direct, bad)
    assert stuck is not None and stuck["state"] == "deploying"
    with direct.transaction() as tx:
        failed = tx.one(
            "SELECT attempts, last_error, due_at > now() AS backed_off FROM runtime.timers"
            " WHERE owner = 'deploy' AND kind = 'poll' AND run_id = :id",
            id=bad,
        )
    assert failed is not None
    assert (failed["attempts"], failed["backed_off"]) == (1, True)
    assert "403" in failed["last_error"]
