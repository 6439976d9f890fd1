"""The whole stack through the local broker: every function its own process, real HTTP, real
Postgres, the fakes, and the recorded scenario that ``make run`` replays."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.cli.report import list_runs
from shared.db import Database
from shared.local.mesh import demo, demo_actions
from shared.local.mesh.demo_repos import build_repositories, with_local_commits
from shared.local.mesh.demo_state import set_policy, wait_concluded, wait_idle
from shared.local.mesh.replay import send
from shared.local.mesh.supervisor import Mesh
from shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mesh(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    data_dir: Path = tmp_path_factory.mktemp("mesh")
    settings = Settings(database_url=pg_admin_url, data_dir=data_dir)
    started = Mesh(
        settings,
        extra_env={
            "CODEX_JUDGE_GITHUB_WEBHOOK_SECRETS": demo.RECORDED_WEBHOOK_SECRET,
            "CODEX_JUDGE_LOG_LEVEL": "WARNING",
        },
        write_allowlist=demo_actions.WRITE_ALLOWLIST,
    ).start(database="cj_integration_mesh", ping_interval_s=1.0, time_scale=0.2)
    yield started
    started.stop()


def _runs(mesh: Mesh) -> list[dict]:
    db = Database(mesh.database_url, size=1)
    try:
        return list_runs(db)
    finally:
        db.close()


def _runs_by_repo(mesh: Mesh) -> dict[str, dict]:
    db = Database(mesh.database_url, size=1)
    try:
        return {r["repository"] or r["workflow_uid"]: r for r in list_runs(db)}
    finally:
        db.close()


def _file_sources(mesh: Mesh) -> set[tuple[str, str, str]]:
    db = Database(mesh.database_url, size=1)
    try:
        with db.transaction() as tx:
            rows = tx.all("SELECT DISTINCT repository, head_sha, source FROM github.pr_files")
    finally:
        db.close()
    return {(r["repository"], r["head_sha"], r["source"]) for r in rows}


def test_recorded_scenario_reaches_each_outcome(mesh: Mesh) -> None:
    urls = mesh.urls()
    # As `make run` does: local repositories with real commits, the fake GitHub re-keyed to them.
    state = demo.github_state()
    built = build_repositories(Path(mesh.settings.data_dir).resolve() / "git", state)
    state = with_local_commits(state, built)
    httpx.put(f"{urls['fakes']['github']}/_fake/state", json=state)
    set_policy(mesh.database_url, demo.E2E_REPO, demo.E2E_POLICY)
    records = demo.completions(state)
    with httpx.Client(timeout=30) as client:
        for record in records:
            assert send(record, urls, client)[1] == 202
    # The CI-timeout run ends only through a PingSource tick handling its durable timer.
    assert wait_concluded(mesh.database_url, demo.E2E_REPO)
    assert wait_idle(urls["broker"], timeout_s=60), "the broker did not go idle within 60 s"

    runs = _runs_by_repo(mesh)
    assert runs["Codertocat/Hello-World"]["decision"] == "pass"
    assert runs["Codertocat/Hello-World"]["status"] == "completed"
    assert runs["derekg1729/test-repo"]["decision"] == "needs_iteration"
    assert "ci_failed" in runs["derekg1729/test-repo"]["reasons"]
    assert runs["kubernetes/kubernetes"]["decision"] == "needs_iteration"
    assert runs["kubernetes/kubernetes"]["review_verdict"] == "unresolved_threads"
    missing = [r for key, r in runs.items() if r["repository"] is None]
    assert len(missing) == 1
    assert missing[0]["status"] == "needs_human"
    assert missing[0]["reason"] == "missing_run_metadata"
    timed_out = runs[demo.E2E_REPO]
    assert timed_out["status"] == "needs_iteration" and timed_out["reason"] == "ci_timeout"
    assert timed_out["ci_verdict"] == "failure"
    for run in runs.values():
        assert run["evaluations"] == 1
    # The judge read the built repositories' changes from worktree snapshots; the repository
    # whose head SHA the signed deliveries name has only GitHub's list (the labelled fallback).
    assert _file_sources(mesh) == {
        ("Codertocat/Hello-World", built["Codertocat/Hello-World"][1], "worktree"),
        (demo.E2E_REPO, built[demo.E2E_REPO][1], "worktree"),
        ("kubernetes/kubernetes", built["kubernetes/kubernetes"][1], "worktree"),
        (
            "derekg1729/test-repo",
            state["pulls"]["derekg1729/test-repo#315"]["head"]["sha"],
            "github",
        ),
    }

    discord = httpx.get(f"{urls['fakes']['discord']}/_fake/state").json()["messages"]
    posted = len(discord)
    # Success and escalations only: here the one escalation is the run with no metadata (the
    # pass is a dry run, the iterations are not announced).
    assert posted == 1 and "NEEDS HUMAN" in discord[0]["content"]

    # Redeliveries: the same record at the same offset, and the same completion at a new offset.
    before = _runs_by_repo(mesh)
    again = copy.deepcopy(records[0])
    with httpx.Client(timeout=30) as client:
        send(again, urls, client)
        again["kafka"]["offset"] = 99
        send(again, urls, client)
    assert wait_idle(urls["broker"], timeout_s=60), "the broker did not go idle within 60 s"
    after = _runs_by_repo(mesh)
    strip = lambda runs: {k: {f: v for f, v in r.items() if f != "path"} for k, r in runs.items()}  # noqa: E731
    assert strip(after) == strip(before)
    assert len(httpx.get(f"{urls['fakes']['discord']}/_fake/state").json()["messages"]) == posted


def test_recorded_webhooks_are_stored_once_and_forgeries_rejected(mesh: Mesh) -> None:
    urls = mesh.urls()
    deliveries = demo.webhook_deliveries()
    with httpx.Client(timeout=30) as client:
        codes = [send(d, urls, client)[1] for d in deliveries + deliveries[:1]]
        forged = copy.deepcopy(deliveries[0])
        forged["body_raw_base64"] = base64.b64encode(json.dumps({"forged": True}).encode()).decode()
        forged_code = send(forged, urls, client)[1]
    assert all(code < 300 for code in codes)
    assert forged_code == 401
    db = Database(mesh.database_url, size=1)
    with db.transaction() as tx:
        stored = tx.one(
            "SELECT count(*) AS n FROM github.events WHERE delivery_id = ANY(:ids)",
            ids=[d["headers"]["x-github-delivery"] for d in deliveries],
        )
    db.close()
    assert stored == {"n": len(deliveries)}


def test_actions_on_verdicts_merge_deploy_revert_rerun_and_tune_once_each(mesh: Mesh) -> None:
    """Issue 5 "Done when": a verified deploy, a reverted deploy, two reruns then an
    escalation, and one prompt-tuning PR — in the runs and in the fakes' recorded requests."""
    urls = mesh.urls()
    for repository, policy in demo_actions.ACTION_POLICIES.items():
        set_policy(mesh.database_url, repository, policy)
    state = demo.github_state()
    demo_actions.configure_fakes(urls, state, Settings().rerun_workflow_template)
    with httpx.Client(timeout=30) as client:
        for delivery in demo_actions.action_webhooks(demo.RECORDED_WEBHOOK_SECRET):
            assert send(delivery, urls, client)[1] == 200
        for record in demo_actions.action_completions(state, first_offset=200):
            assert send(record, urls, client)[1] == 202
    assert demo_actions.wait_actions(mesh.database_url)
    assert wait_idle(urls["broker"], timeout_s=60), "the broker did not go idle within 60 s"

    runs = _runs(mesh)
    deployed = [r for r in runs if r["repository"] == demo_actions.DEPLOY_REPO]
    reverted = [r for r in runs if r["repository"] == demo_actions.REVERT_REPO]
    rerun = [r for r in runs if r["repository"] == demo_actions.RERUN_REPO]
    assert [(r["status"], r["reason"], r["decision"]) for r in deployed] == [
        ("completed", "deploy_verified", "pass")
    ]
    assert [(r["status"], r["reason"], r["decision"]) for r in reverted] == [
        ("needs_iteration", "post_deploy_failed", "pass")
    ]
    # Attempts 1 and 2 iterate; attempt 3 is the last the policy allows: escalated.
    assert [(r["attempt"], r["status"], r["decision"]) for r in rerun] == [
        (1, "needs_iteration", "needs_iteration"),
        (2, "needs_iteration", "needs_iteration"),
        (3, "needs_human", "needs_iteration"),
    ]
    assert rerun[-1]["reason"] == "attempts_exhausted"
    # Each deploy's verification came back through Kafka to run-complete, then to deploy.
    for run in deployed + reverted:
        consumers = [step.split(":", 1)[0] for step in run["path"]]
        assert consumers[consumers.index("deploy") :].count("run-complete") == 1

    actions = demo_actions.recorded_actions(urls)
    merged = {(m["repository"], m["number"], m["sha"]) for m in actions["merges"]}
    assert len(actions["merges"]) == 2
    assert merged == {
        (repo, 2, state["pulls"][f"{repo}#2"]["head"]["sha"])
        for repo in (demo_actions.DEPLOY_REPO, demo_actions.REVERT_REPO)
    }
    merge_shas = {m["repository"]: m["merge_commit_sha"] for m in actions["merges"]}
    assert sorted(s["revision"] for s in actions["argocd_syncs"]) == sorted(merge_shas.values())
    assert len(actions["reverts"]) == 1
    assert actions["reverts"][0]["url"].startswith(
        f"https://github.com/{demo_actions.REVERT_REPO}/"
    )
    graphql = httpx.get(f"{urls['fakes']['github']}/_fake/requests").json()["requests"]
    mutations = [r for r in graphql if "revertPullRequest" in str((r["json"] or {}).get("query"))]
    assert len(mutations) == 1
    [tuned] = actions["prompt_tuning_pulls"]
    assert tuned["html_url"].startswith(f"https://github.com/{demo_actions.RERUN_REPO}/pull/")
    assert tuned["body"].startswith(demo_actions.PR_TEMPLATE.strip())

    submissions = actions["argo_submissions"]
    reruns = [s for s in submissions if "codex-judge.io/rerun-of" in s["submitOptions"]["labels"]]
    verifications = [s for s in submissions if "verifies-run" in s["submitOptions"]["labels"]]
    assert len(reruns) == 2 and len(verifications) == 2
    assert {c["phase"] for c in actions["argo_completions"]} == {"Succeeded", "Failed"}
    assert all(c["sink_status"] == 202 for c in actions["argo_completions"])

    by_run: dict[int, list[str]] = {}
    for message in actions["discord_messages"]:
        first = message["content"].split("\n", 1)[0]
        by_run.setdefault(int(first.rsplit("run ", 1)[1]), []).append(first)
    assert any("MERGED AND VERIFIED" in m for m in by_run[deployed[0]["id"]])
    assert any("DEPLOY FAILED" in m for m in by_run[reverted[0]["id"]])
    assert sum("ATTEMPTS EXHAUSTED" in m for m in by_run[rerun[-1]["id"]]) == 1


def test_up_prints_the_api_and_ui_and_a_read_only_token_that_works(mesh: Mesh) -> None:
    urls = mesh.urls()
    assert urls["api"] == urls["functions"]["api"] and urls["ui"] == urls["api"] + "/ui/runs"
    token = {"Authorization": f"Bearer {urls['ui_read_token']}"}
    assert httpx.get(urls["api"] + "/api/runs").status_code == 401
    assert httpx.get(urls["api"] + "/api/runs", headers=token).status_code == 200
    approve = httpx.post(urls["api"] + "/api/runs/1/approve", headers=token)
    assert approve.status_code == 403  # the printed token only reads
    login = httpx.post(urls["api"] + "/ui/login", data={"token": urls["ui_read_token"]})
    assert login.status_code == 302 and "HttpOnly" in login.headers["set-cookie"]
