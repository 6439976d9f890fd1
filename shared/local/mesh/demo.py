"""``make run``: the whole pipeline on real recorded input, start to finish.

Starts the mesh on a fresh database, seeds the fake GitHub from recorded GitHub objects, replays
Argo completions (sensor payloads built from real ``Workflow`` objects by the sensor's mapping,
with our run metadata added as workflow parameters) through the KafkaSource, replays the real
signed webhook deliveries, waits until the broker is idle, prints the runs table, and stops.

The scenario (every object comes from ``tests/fixtures/corpus``; see its ``SOURCES.md``):

1. **pass** — Codertocat/Hello-World PR #2: green check run, AI review approved;
2. **CI failure** — derekg1729/test-repo PR #315: the recorded failing check run on its head SHA;
3. **unresolved review threads** — kubernetes/kubernetes PR #66534: CI green, the AI reviewer left
   an unresolved thread (the recorded review-thread comment);
4. **failed workflow with missing metadata** — the recorded failed ``onExit`` workflow, unchanged;
5. **duplicates** — run 1's record redelivered at the same offset, and the same completion again
   at a new offset (Argo's repeated UPDATE events): neither changes anything;
6. **webhooks** — the eight real signed deliveries (stored once each, replayed twice), plus a
   forged copy that is rejected with 401;
7. **CI timeout** — the recorded Codertocat/Hello-World PR re-keyed to the scenario repository
   ``Codertocat/Hello-World-e2e``, whose policy (a ``codex_judge.policies`` row) requires a check
   ``e2e`` that never reports, with ``ci_timeout_s`` 3: the run waits on a durable timer; the
   PingSource tick (every second here) wakes the scheduler, which wakes ci-status once the
   timer is due; it times the wait out, and the run ends ``needs_iteration`` with reason
   ``ci_timeout``;
8. **actions on verdicts** (:mod:`shared.local.mesh.demo_actions`) — a pass that is merged, deployed
   through the fake Argo CD and verified by a workflow the fake Argo cluster runs (its
   completion comes back through Kafka); a deploy whose verification fails and is reverted; a
   failing run that is rerun twice through Argo and then escalates (``attempts_exhausted``);
   and the prompt-tuning pull request those repeated failures open. After the runs table the
   demo prints every action the fakes recorded: merges, syncs, workflow submissions, reverts,
   prompt-tuning PRs, Facteur tasks and Discord messages.

Before anything is replayed, the scenario's repositories are built as real local git
repositories and the fake GitHub is re-keyed to their commits
(:mod:`shared.local.mesh.demo_repos`), so the judge's worktree snapshots clone them and its file
lists are ``source worktree`` (``codex-judge explain RUN``); the repositories that signed
webhook deliveries name by head SHA keep the labelled GitHub fallback.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from shared.agents.publisher import publish_all
from shared.cli.report import list_runs, render_runs
from shared.local.fakes.s3 import put_objects
from shared.local.mesh.demo_actions import (
    ACTION_POLICIES,
    WRITE_ALLOWLIST,
    action_completions,
    action_webhooks,
    add_action_repos,
    configure_fakes,
    recorded_actions,
    render_actions,
    wait_actions,
)
from shared.local.mesh.demo_agents import agent_messages
from shared.local.mesh.demo_artifacts import (
    demo_objects,
    render_file_list_sources,
    render_run_artifacts,
)
from shared.local.mesh.demo_repos import build_repositories, with_local_commits
from shared.local.mesh.demo_state import (
    print_side_effects,
    set_policy,
    wait_agent_messages,
    wait_concluded,
    wait_idle,
)
from shared.local.mesh.replay import broker_base, send
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[3]  # the repository (shared/local/mesh/…)
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
TOPIC = "argo.workflows.completions"
DEMO_DATABASE = "codex_judge_demo"
AI_REVIEWER = "chatgpt-codex-connector[bot]"
#: Run 7's repository: its policy requires a check that never reports (a CI timeout).
E2E_REPO = "Codertocat/Hello-World-e2e"
E2E_POLICY = {"required_checks": ["e2e"], "ci_timeout_s": 3, "ai_reviewer_logins": [AI_REVIEWER]}
# The webhook secret the recorded deliveries were signed with (published with the corpus).
RECORDED_WEBHOOK_SECRET = "402786017574bd28f9d8f7a18648939751c47fe09077d56e10f0444f14fbb73b"


def _load(relative: str) -> Any:
    path = CORPUS / relative
    return (
        yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())
    )


def _webhook_body(relative: str) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(_load(relative)["body_raw_base64"])))


def _with_params(workflow: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``workflow`` whose ``spec.arguments.parameters`` carry our run metadata."""
    wf = copy.deepcopy(workflow)
    spec = wf.setdefault("spec", {})
    existing = spec.setdefault("arguments", {}).setdefault("parameters", [])
    existing.extend({"name": k, "value": str(v)} for k, v in params.items())
    return wf


def _check_run(relative: str, sha: str) -> dict[str, Any]:
    check = dict(_load(relative)["check_run"])
    check["head_sha"] = sha
    return check


def github_state() -> dict[str, Any]:
    """The fake GitHub's state: recorded objects, re-keyed to the scenario's PRs and SHAs."""
    hello = _load("github-webhooks/pull_request.opened.octokit.json")["pull_request"]
    hello["mergeable_state"] = "clean"
    sha1 = hello["head"]["sha"]
    cogni = _webhook_body("github-webhooks/pull_request.synchronize.cogni-delivery.json")
    pr2 = cogni["pull_request"]
    pr2["mergeable_state"] = "clean"
    sha2 = pr2["head"]["sha"]
    k8s = _load("github-webhooks/pull_request_review.submitted.changes_requested.prow.json")
    pr3 = k8s["pull_request"]
    pr3["mergeable_state"] = "clean"
    sha3 = pr3["head"]["sha"]
    thread = _load("github-webhooks/pull_request_review_thread.unresolved.octokit.json")["thread"]
    comment = thread["comments"][0]
    patch = "@@ -1 +1 @@\n-# Hello-World\n+# Hello World"
    files = [
        {
            "filename": "README.md",
            "status": "modified",
            "additions": 1,
            "deletions": 1,
            "changes": 2,
            "patch": patch,
        }
    ]

    def review(pr: dict[str, Any], state: str, rid: int) -> dict[str, Any]:
        return {
            "id": rid,
            "user": {"login": AI_REVIEWER, "type": "Bot"},
            "state": state,
            "body": "Automated review.",
            "commit_id": pr["head"]["sha"],
            "submitted_at": "2026-11-20T10:00:00Z",
        }

    e2e = copy.deepcopy(hello)
    e2e["base"]["repo"]["full_name"] = e2e["head"]["repo"]["full_name"] = E2E_REPO
    state: dict[str, Any] = {
        "pulls": {
            f"{E2E_REPO}#2": e2e,
            "Codertocat/Hello-World#2": hello,
            "derekg1729/test-repo#315": pr2,
            "kubernetes/kubernetes#66534": pr3,
        },
        "pull_files": {
            f"{E2E_REPO}#2": files,
            "Codertocat/Hello-World#2": files,
            "derekg1729/test-repo#315": files,
            "kubernetes/kubernetes#66534": files,
        },
        "check_runs": {
            # The recorded green check run reports; the required "e2e" never does.
            f"{E2E_REPO}@{sha1}": [
                _check_run("github-webhooks/check_run.completed.success.octokit.json", sha1)
            ],
            f"Codertocat/Hello-World@{sha1}": [
                _check_run("github-webhooks/check_run.completed.success.octokit.json", sha1)
            ],
            f"derekg1729/test-repo@{sha2}": [
                _check_run("github-webhooks/check_run.completed.failure.octokit.json", sha2)
            ],
            f"kubernetes/kubernetes@{sha3}": [
                _check_run("github-webhooks/check_run.completed.success.octokit.json", sha3)
            ],
        },
        "statuses": {},
        "reviews": {
            f"{E2E_REPO}#2": [review(e2e, "APPROVED", 9004)],
            "Codertocat/Hello-World#2": [review(hello, "APPROVED", 9001)],
            "derekg1729/test-repo#315": [review(pr2, "APPROVED", 9002)],
            "kubernetes/kubernetes#66534": [review(pr3, "COMMENTED", 9003)],
        },
        "review_threads": {
            "kubernetes/kubernetes#66534": [
                {
                    "id": thread["node_id"],
                    "isResolved": False,
                    "isOutdated": False,
                    "path": comment["path"],
                    "line": comment.get("line") or 1,
                    "comments": {
                        "nodes": [
                            {
                                "author": {"login": AI_REVIEWER},
                                "body": comment["body"],
                                "url": comment["html_url"],
                            }
                        ]
                    },
                }
            ]
        },
    }
    return add_action_repos(state)


def completions(state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Kafka records of the scenario's Argo completions, in the sensor's payload shape, for the
    head SHAs of the fake GitHub ``state`` (default: :func:`github_state`)."""
    from shared.argo import payload_from_workflow

    pulls = (state or github_state())["pulls"]

    def meta(repo: str, pr: int, issue: int) -> dict[str, Any]:
        return {
            "repository": repo,
            "issue_number": issue,
            "pr_number": pr,
            "head_sha": pulls[f"{repo}#{pr}"]["head"]["sha"],
            "head_ref": pulls[f"{repo}#{pr}"]["head"]["ref"],
            "base_ref": pulls[f"{repo}#{pr}"]["base"]["ref"],
            "attempt": 1,
        }

    workflows = [
        _with_params(
            _load("argo/workflow.succeeded.wftref-arguments.yaml"),
            meta("Codertocat/Hello-World", 2, 1),
        ),
        _with_params(
            _load("argo/workflow.succeeded.subdag-params-s3.yaml"),
            meta("derekg1729/test-repo", 315, 314),
        ),
        _with_params(
            _load("argo/workflow.succeeded.nested-dag-21-nodes.yaml"),
            meta("kubernetes/kubernetes", 66534, 66000),
        ),
        _load("argo/workflow.failed.onexit-s3-keys.yaml"),
        _with_params(_load("argo/workflow.succeeded.artgc-mixed-s3.yaml"), meta(E2E_REPO, 2, 7)),
    ]
    return [
        {
            "kafka": {"topic": TOPIC, "key": wf["metadata"]["uid"], "offset": n},
            "value": payload_from_workflow(wf),
        }
        for n, wf in enumerate(workflows)
    ]


def webhook_deliveries() -> list[dict[str, Any]]:
    """The real signed deliveries, in the order they were recorded."""
    files = sorted((CORPUS / "github-webhooks").glob("*.cogni-delivery.json"))
    docs = [json.loads(p.read_text()) for p in files]
    return sorted(docs, key=lambda d: d.get("received_at", ""))


def run_demo(settings: Settings, *, verbose: bool = False) -> int:
    """Run the scenario on a fresh ``codex_judge_demo`` database and print the runs table."""
    from shared.db import Database
    from shared.local.mesh.supervisor import Mesh

    started = time.monotonic()
    secrets = [s.get_secret_value() for s in settings.github_webhook_secrets]
    mesh = Mesh(
        settings,
        extra_env={
            "CODEX_JUDGE_GITHUB_WEBHOOK_SECRETS": ",".join([*secrets, RECORDED_WEBHOOK_SECRET])
        },
        write_allowlist=WRITE_ALLOWLIST,
        artifact_bucket=True,
    )
    print(
        "starting the local mesh (embedded Postgres and NATS, fakes, functions, broker)…",
        flush=True,
    )
    mesh.start(database=DEMO_DATABASE, ping_interval_s=1.0, time_scale=0.2)
    try:
        urls = mesh.urls()
        print(json.dumps(urls), flush=True)
        for repository, policy in {E2E_REPO: E2E_POLICY, **ACTION_POLICIES}.items():
            set_policy(mesh.database_url, repository, policy)
        # Local repositories with real commits for the judge's worktree snapshots, and the fake
        # GitHub re-keyed to them (shared/local/mesh/demo_repos.py).
        state = github_state()
        built = build_repositories(Path(settings.data_dir).resolve() / "git", state)
        state = with_local_commits(state, built)
        print(f"local git repositories (worktree snapshots): {', '.join(sorted(built))}")
        configure_fakes(urls, state, settings.rerun_workflow_template)
        if urls["artifact_repository"]:
            e2e = state["pulls"][f"{E2E_REPO}#2"]["head"]["sha"]
            files = state["pull_files"][f"{E2E_REPO}#2"]
            put_objects(urls["artifact_repository"], demo_objects(e2e, files))
        records = completions(state)
        records += action_completions(state, first_offset=len(records))
        notify = {
            "notify": {
                "workflow_uid": records[0]["kafka"]["key"],
                "summary": "Fixed the README title.",
                "events": [
                    json.loads(line)
                    for line in (CORPUS / "codex-exec/tooluse.vincent.jsonl")
                    .read_text()
                    .splitlines()
                    if line.strip()
                ],
            }
        }
        with httpx.Client(timeout=30) as client:
            print(_line("notify (before run-complete)", send(notify, urls, client)))
            for delivery in action_webhooks(RECORDED_WEBHOOK_SECRET):
                print(_line("webhook pull_request (rerun scenario)", send(delivery, urls, client)))
            for record in records:
                print(
                    _line(f"kafka offset {record['kafka']['offset']}", send(record, urls, client))
                )
            wait_idle(urls["broker"])
            again = copy.deepcopy(records[0])
            print(_line("duplicate: same record, same offset", send(again, urls, client)))
            again["kafka"]["offset"] = len(records)
            print(_line("duplicate: same completion, new offset", send(again, urls, client)))
            deliveries = webhook_deliveries()
            for delivery in deliveries + deliveries[:1]:
                event = delivery["headers"].get("x-github-event")
                print(_line(f"webhook {event}", send(delivery, urls, client)))
            forged = copy.deepcopy(deliveries[0])
            forged["body_raw_base64"] = base64.b64encode(b'{"forged": true}').decode()
            print(_line("webhook forged signature", send(forged, urls, client)))
        e2e = next(r["kafka"]["key"] for r in records if E2E_REPO in json.dumps(r["value"]))
        messages = agent_messages(records, missed=e2e)
        unsent = asyncio.run(publish_all(urls["nats"], messages))
        print(f"agent messages published to NATS: {len(messages) - len(unsent)} of {len(messages)}")
        # Run 7 waits on a durable timer that only a tick ends; the deploys and reruns wait on
        # ticks and on the fake cluster's completions. Wait for all of them, then for quiet.
        print("waiting for the CI timeout, the deploys and the reruns…", flush=True)
        concluded = wait_concluded(mesh.database_url, E2E_REPO)
        acted = wait_actions(mesh.database_url)
        idle = wait_idle(urls["broker"]) and concluded and acted
        stored = wait_agent_messages(mesh.database_url, len(messages) - len(unsent))
        idle = idle and stored
        db = Database(mesh.database_url, size=1)
        print()
        print(render_runs(list_runs(db)))
        print()
        print(render_file_list_sources(db))
        print()
        print(render_run_artifacts(db, E2E_REPO))
        print()
        print_side_effects(db)
        db.close()
        print()
        print(render_actions(recorded_actions(urls)))
        print(f"\n{'idle' if idle else 'NOT idle'} after {time.monotonic() - started:.1f} s")
        print(f"web UI: {urls.get('ui')} read-only token: {mesh.access.read_token or '(yours)'}")
        print("the mesh stops now; `make ui` serves the demo's runs in the UI again")
        if verbose:
            print(
                json.dumps(httpx.get(f"{broker_base(urls['broker'])}/_mesh/stats").json(), indent=2)
            )
    finally:
        mesh.stop()
    return 0 if idle else 1


def _line(label: str, result: tuple[str, int]) -> str:
    return f"  {label:<40} → HTTP {result[1]}"
