"""deploy over real HTTP: real Postgres, the fake Argo, Argo CD and GitHub servers, and
verification completions built from recorded Argo workflows, delivered through run-complete."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest

from shared.argo import load_document
from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes import argo as fake_argo
from shared.local.fakes import argocd as fake_argocd
from shared.local.fakes import github as fake_github
from shared.local.fakes.base import ServedFake, serve_fake
from tests.support import cloudevents

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
REPO = "python/cpython"
PR = 1
MERGE_SHA = "5d6f1e4e7a3c2b1a0f9e8d7c6b5a493827160514"
APP = "cpython-prod"
KAFKA_SOURCE = (
    "/apis/v1/namespaces/codex-judge/kafkasources/argo-workflow-completions"
    "#argo.workflows.completions"
)


def recorded_pull() -> dict[str, Any]:
    """A real ``GET /repos/python/cpython/pulls/1`` body, now merged at ``MERGE_SHA``."""
    pull = json.loads(
        (CORPUS / "github-rest" / "pulls.get.cpython-1.200.body.gidgethub.json").read_text()
    )
    pull.update(node_id="PR_kwDOBN0Z8c4AAAAB", merged=True, state="closed")
    pull["merge_commit_sha"] = MERGE_SHA
    return dict(pull)


@pytest.fixture
def fakes(deps: Container, serve: Any) -> Iterator[dict[str, Any]]:
    github = serve_fake(fake_github.create_app({"pulls": {f"{REPO}#{PR}": recorded_pull()}}))
    argo = serve_fake(fake_argo.create_app())
    argocd = serve_fake(
        fake_argocd.create_app(
            {"applications": {APP: fake_argocd.application(APP, revision="1" * 40)}}
        )
    )
    published: list[dict[str, Any]] = []
    lock = threading.Lock()
    sink = flask.Flask("sink")

    @sink.post("/")
    def _receive() -> flask.Response:
        with lock:
            published.append(
                {
                    "type": flask.request.headers.get("ce-type"),
                    "id": flask.request.headers.get("ce-id"),
                    "data": flask.request.get_json(silent=True),
                }
            )
        return flask.Response(b"", status=202)

    settings = deps.settings
    settings.github_api_url = github.url
    settings.argo_server_url = argo.url
    settings.argocd_url = argocd.url
    settings.github_write_allowlist = [REPO]
    settings.k_sink = serve(sink).url + "/"
    yield {"github": github, "argo": argo, "argocd": argocd, "published": published}
    for fake in (github, argo, argocd):
        fake.stop()


def state(fake: ServedFake) -> dict[str, Any]:
    return dict(httpx.get(f"{fake.url}/_fake/state").json())


def requests_to(fake: ServedFake, method: str, path_part: str) -> list[dict[str, Any]]:
    log = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    return [r for r in log if r["method"] == method and path_part in r["path"]]


def setup_run(db: Database, **policy: Any) -> int:
    document = {
        "dry_run": False,
        "deploy_mode": "argocd",
        "argocd_application": APP,
        "verify_workflow_template": "e2e-verify",
        "deploy_timeout_s": 1800,
        **policy,
    }
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document)"
            " VALUES (:repo, CAST(:doc AS jsonb))",
            repo=REPO,
            doc=json.dumps(document),
        )
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,"
            " attempt, head_sha, pr_number) VALUES ('uid-deploy', 'deploying', 'Succeeded', :repo,"
            " 7, 1, :head, :pr) RETURNING id",
            repo=REPO,
            head="a" * 40,
            pr=PR,
        )
    assert row is not None
    return int(row["id"])


def post_event(url: str, event_type: str, data: dict[str, Any], event_id: str) -> httpx.Response:
    source = "/codex-judge/merge" if event_type.endswith("merged.v1") else "/test"
    return cloudevents.post_event(url, event_type, data, event_id, source=source)


def pr_merged(url: str, run_id: int, event_id: str = "merged-1") -> httpx.Response:
    data = {
        "run_id": run_id,
        "repository": REPO,
        "pr_number": PR,
        "head_sha": "a" * 40,
        "merge_commit_sha": MERGE_SHA,
        "merge_method": "squash",
        "dry_run": False,
    }
    return post_event(url, "io.codexjudge.pr.merged.v1", data, event_id)


def tick(url: str, db: Database, kind: str, event_id: str) -> httpx.Response:
    """Let the ``kind`` deploy timer come due, then deliver the scheduler's ``timers.due``."""
    with db.transaction() as tx:
        tx.run(
            "UPDATE runtime.timers SET due_at = now() - interval '1 second'"
            " WHERE owner = 'deploy' AND kind = :kind AND done_at IS NULL",
            kind=kind,
        )
    return cloudevents.post_timers_due(url, "deploy", event_id)


def verification_record(name: str, run_id: int, *, failed: bool) -> bytes:
    """A recorded Argo workflow, relabelled as the verification deploy submitted."""
    corpus = (
        "workflow.failed.dag-disable-fail-fast.yaml"
        if failed
        else "workflow.succeeded.wftref-arguments.yaml"
    )
    workflow = copy.deepcopy(load_document((CORPUS / "argo" / corpus).read_text()))
    workflow["metadata"]["name"] = name
    workflow["metadata"]["uid"] = f"uid-{name}"
    workflow["metadata"].setdefault("labels", {})["codex-judge.io/verifies-run"] = str(run_id)
    workflow["spec"]["arguments"] = {"parameters": [{"name": "revision", "value": MERGE_SHA}]}
    return json.dumps(workflow).encode()


def through_run_complete(run_complete_url: str, record: bytes, offset: int) -> httpx.Response:
    return httpx.post(
        run_complete_url,
        content=record,
        headers={
            "ce-specversion": "1.0",
            "ce-id": f"partition:0/offset:{offset}",
            "ce-source": KAFKA_SOURCE,
            "ce-type": "dev.knative.kafka.event",
        },
        timeout=30,
    )


def forward(reply: httpx.Response, url: str) -> httpx.Response:
    """Deliver a function's binary-mode reply to ``url``, as the Broker would."""
    headers = {k: v for k, v in reply.headers.items() if k.lower().startswith("ce-")}
    headers["content-type"] = reply.headers.get("content-type", "application/json")
    return httpx.post(url, content=reply.content, headers=headers, timeout=30)


def run_row(db: Database, run_id: int) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one("SELECT status, reason FROM codex_judge.runs WHERE id = :id", id=run_id)
    assert row is not None
    return row


def submitted_verification(fakes: dict[str, Any]) -> dict[str, Any]:
    workflows = state(fakes["argo"])["workflows"]
    verify = [w for w in workflows.values() if w["metadata"]["name"].startswith("verify-")]
    assert len(verify) == 1
    return dict(verify[0])


def deploy_to_verifying(function_url: Any, db: Database, fakes: dict[str, Any]) -> tuple[str, int]:
    deploy = function_url("deploy")
    run_id = setup_run(db)
    assert pr_merged(deploy, run_id).status_code == 202
    assert tick(deploy, db, "poll", "tick-1").status_code == 202
    return deploy, run_id


def test_argocd_deploy_is_verified_only_after_the_merge_commit_runs_and_verification_passes(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    deploy, run_id = deploy_to_verifying(function_url, db, fakes)
    syncs = state(fakes["argocd"])["syncs"]
    assert [s["revision"] for s in syncs] == [MERGE_SHA]
    verify = submitted_verification(fakes)
    assert verify["metadata"]["labels"]["codex-judge.io/verifies-run"] == str(run_id)
    assert {"name": "revision", "value": MERGE_SHA} in verify["spec"]["arguments"]["parameters"]
    assert run_row(db, run_id)["status"] == "verifying"

    completion = through_run_complete(
        function_url("run_complete"),
        verification_record(verify["metadata"]["name"], run_id, failed=False),
        offset=10,
    )
    assert completion.status_code == 200, completion.text
    assert completion.headers["ce-type"] == "io.codexjudge.verification.completed.v1"
    resp = forward(completion, deploy)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ce-type"] == "io.codexjudge.deploy.verified.v1"
    assert resp.json()["revision"] == MERGE_SHA
    assert run_row(db, run_id) == {"status": "completed", "reason": "deploy_verified"}
    with db.transaction() as tx:
        runs = tx.all("SELECT id FROM codex_judge.runs")
    assert len(runs) == 1  # the verification workflow is not a new run
    assert state(fakes["github"])["reverts"] == []


def test_failed_verification_opens_exactly_one_revert_and_names_the_failing_tests(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    deploy, run_id = deploy_to_verifying(function_url, db, fakes)
    record = verification_record(
        submitted_verification(fakes)["metadata"]["name"], run_id, failed=True
    )
    run_complete = function_url("run_complete")
    first = through_run_complete(run_complete, record, offset=20)
    assert first.status_code == 200, first.text
    assert first.json()["failed_steps"] == ["C"]
    failed = forward(first, deploy)
    assert failed.status_code == 200, failed.text
    assert failed.headers["ce-type"] == "io.codexjudge.deploy.failed.v1"
    body = failed.json()
    assert body["reason"] == "verification_failed" and body["failing_tests"] == ["C"]
    assert body["remedy"]["kind"] == "revert_pr" and body["remedy"]["outcome"] == "success"
    assert "- C" in body["next_prompt"]

    # Argo repeats the UPDATE under a new offset; the Broker redelivers the reply too.
    again = forward(through_run_complete(run_complete, record, offset=21), deploy)
    assert again.status_code == 200
    assert again.headers["ce-id"] == failed.headers["ce-id"]
    assert forward(first, deploy).headers["ce-id"] == failed.headers["ce-id"]

    reverts = state(fakes["github"])["reverts"]
    assert [r["reverted_number"] for r in reverts] == [PR]
    assert body["remedy"]["number"] == reverts[0]["number"]
    assert run_row(db, run_id) == {"status": "needs_iteration", "reason": "post_deploy_failed"}


def test_duplicate_pr_merged_deliveries_sync_once(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    deploy = function_url("deploy")
    run_id = setup_run(db)
    assert pr_merged(deploy, run_id, "merged-1").status_code == 202
    assert pr_merged(deploy, run_id, "merged-1").status_code == 202
    assert pr_merged(deploy, run_id, "merged-2").status_code == 202
    assert len(requests_to(fakes["argocd"], "POST", "/sync")) == 1


def test_a_health_check_at_an_older_revision_is_not_a_deploy(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    httpx.put(
        f"{fakes['argocd'].url}/_fake/state",
        json={
            "applications": {APP: fake_argocd.application(APP, revision="1" * 40)},
            "behaviour": {APP: {"polls_to_sync": 3}},
        },
    ).raise_for_status()
    deploy = function_url("deploy")
    run_id = setup_run(db)
    assert pr_merged(deploy, run_id).status_code == 202
    assert tick(deploy, db, "poll", "tick-1").status_code == 202  # Healthy, but not at the merge
    assert state(fakes["argo"])["submissions"] == []
    assert run_row(db, run_id)["status"] == "deploying"
    tick(deploy, db, "poll", "tick-2")
    tick(deploy, db, "poll", "tick-3")
    assert len(state(fakes["argo"])["submissions"]) == 1
    assert run_row(db, run_id)["status"] == "verifying"


def test_deploy_timeout_reverts_once_and_publishes_deploy_failed(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    deploy = function_url("deploy")
    run_id = setup_run(
        db, deploy_mode="argo_workflow", deploy_workflow_template="rollout", argocd_application=None
    )
    assert pr_merged(deploy, run_id).status_code == 202
    submissions = state(fakes["argo"])["submissions"]
    assert [s["resourceName"] for s in submissions] == ["rollout"]
    assert f"revision={MERGE_SHA}" in submissions[0]["submitOptions"]["parameters"]

    assert tick(deploy, db, "deadline", "tick-1").status_code == 202
    assert tick(deploy, db, "deadline", "tick-2").status_code == 202
    published = [e for e in fakes["published"] if e["type"] == "io.codexjudge.deploy.failed.v1"]
    assert len(published) == 1 and published[0]["data"]["reason"] == "deploy_timeout"
    assert len(state(fakes["github"])["reverts"]) == 1
    assert run_row(db, run_id) == {"status": "needs_iteration", "reason": "post_deploy_failed"}


def test_degraded_sync_rolls_back_through_argocd_when_the_policy_says_so(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    httpx.put(
        f"{fakes['argocd'].url}/_fake/state",
        json={
            "applications": {APP: fake_argocd.application(APP, revision="1" * 40)},
            "behaviour": {APP: {"health": "Degraded"}},
        },
    ).raise_for_status()
    deploy = function_url("deploy")
    run_id = setup_run(db, on_deploy_failure="rollback")
    assert pr_merged(deploy, run_id).status_code == 202
    assert tick(deploy, db, "poll", "tick-1").status_code == 202
    published = [e for e in fakes["published"] if e["type"] == "io.codexjudge.deploy.failed.v1"]
    assert len(published) == 1
    assert published[0]["data"]["reason"] == "sync_failed"
    assert published[0]["data"]["remedy"] == {
        "kind": "rollback",
        "outcome": "success",
        "url": None,
        "number": None,
        "revision": "1" * 40,
    }
    assert state(fakes["argocd"])["rollbacks"] == [
        {"name": APP, "id": 0, "prune": False, "dryRun": False}
    ]
    assert state(fakes["github"])["reverts"] == []
    assert state(fakes["argo"])["submissions"] == []  # nothing verified a degraded deploy


def test_a_policy_without_a_verification_template_escalates_instead_of_deploying(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    deploy = function_url("deploy")
    run_id = setup_run(db, verify_workflow_template=None)
    resp = pr_merged(deploy, run_id)
    assert resp.status_code == 200
    assert resp.headers["ce-type"] == "io.codexjudge.run.escalated.v1"
    assert resp.json()["reason"] == "deploy_not_configured"
    assert run_row(db, run_id)["status"] == "needs_human"
    assert state(fakes["argocd"])["syncs"] == []


def test_an_event_type_deploy_does_not_route_is_acknowledged_and_deploys_nothing(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    """The one rule of every function's route table (shared.runtime.routing): 202, not a dead
    letter."""
    run_id = setup_run(db)
    data = {"run_id": run_id, "repository": REPO, "pr_number": PR, "head_sha": "a" * 40}
    resp = post_event(function_url("deploy"), "io.codexjudge.judge.decided.v1", data, "odd-1")
    assert resp.status_code == 202
    assert run_row(db, run_id)["status"] == "deploying"
    assert state(fakes["argocd"])["syncs"] == []
    with db.transaction() as tx:
        stored = tx.one(
            "SELECT count(*) AS n FROM runtime.dead_letters WHERE subscriber = 'deploy'"
        )
    assert stored is not None and stored["n"] == 0


def test_a_verification_label_that_is_not_a_run_id_is_422_naming_the_label(
    function_url: Any,
) -> None:
    workflow = load_document(
        (CORPUS / "argo" / "workflow.succeeded.wftref-arguments.yaml").read_text()
    )
    workflow["metadata"].setdefault("labels", {})["codex-judge.io/verifies-run"] = "abc"
    resp = through_run_complete(function_url("run_complete"), json.dumps(workflow).encode(), 30)
    assert resp.status_code == 422
    assert "codex-judge.io/verifies-run" in resp.json()["field"]


def test_argo_workflow_deploy_verifies_only_after_its_deploy_workflow_succeeded(
    function_url: Any, db: Database, fakes: dict[str, Any]
) -> None:
    deploy = function_url("deploy")
    run_id = setup_run(db, deploy_mode="argo_workflow", deploy_workflow_template="deploy-prod")
    assert pr_merged(deploy, run_id).status_code == 202
    assert pr_merged(deploy, run_id, event_id="merged-again").status_code == 202
    workflows = state(fakes["argo"])["workflows"]
    deploys = [w for w in workflows.values() if w["metadata"]["name"].startswith("deploy-")]
    assert len(deploys) == 1  # one submission however often pr.merged arrives
    deployed = deploys[0]
    assert deployed["metadata"]["labels"]["codex-judge.io/deploys-run"] == str(run_id)
    assert {"name": "revision", "value": MERGE_SHA} in deployed["spec"]["arguments"]["parameters"]

    # Still running: a tick submits no verification yet.
    assert tick(deploy, db, "poll", "tick-1").status_code == 202
    assert [
        w for w in state(fakes["argo"])["workflows"] if w.split("/")[-1].startswith("verify-")
    ] == []

    finished = state(fakes["argo"])
    key = next(k for k in finished["workflows"] if k.split("/")[-1].startswith("deploy-"))
    finished["workflows"][key].setdefault("status", {})["phase"] = "Succeeded"
    httpx.put(f"{fakes['argo'].url}/_fake/state", json=finished).raise_for_status()
    assert tick(deploy, db, "poll", "tick-2").status_code == 202
    verify = submitted_verification(fakes)
    assert verify["metadata"]["labels"]["codex-judge.io/verifies-run"] == str(run_id)
    assert run_row(db, run_id)["status"] == "verifying"
