"""Exactly-once under at-least-once delivery: the issue 5 scenarios through the whole stack, once
clean and then with every delivery possibly duplicated, reordered, failed or its answer lost.

The stack: every function in-thread over real HTTP behind a chaos proxy
(:mod:`tests.support.chaos`), the local broker reading the real ``knative/`` and ``triggers/``
manifests (retries, backoff, dead-letter sink, PingSource ticks), the fake GitHub, Discord,
Facteur, Argo and Argo CD servers, and a fresh real Postgres. Chaos runs also make each upstream
fail transiently once where its fake can (GitHub merge/revert/create-pull 502, Discord 429,
Facteur 503).

Scenarios (recorded objects from ``tests/fixtures/corpus``, re-keyed per repository):

* **verified** — ``Codertocat/Hello-World`` PR #2 passes, merges at the judged SHA, Argo CD
  syncs the merge commit, the verification workflow succeeds → ``completed``, one success notice;
* **reverted** — the same PR re-keyed to ``Codertocat/Hello-World-revert``: the verification
  workflow fails → one revert PR, run ``needs_iteration`` (``post_deploy_failed``);
* **rerun twice, then escalate** — ``derekg1729/test-repo`` PR #315 fails CI on every attempt:
  Facteur gets attempts 2 and 3, each "agent run" comes back through run-complete, attempt 3
  ends ``needs_human`` (``attempts_exhausted``), and the three failures open one prompt-tuning PR.

The test driver plays the outside world: GitHub posts its recorded signed webhooks to
github-webhook; Argo finishes the verification workflows deploy submits (in the fake Argo and
as a completion through the KafkaSource); the agent turns each Facteur task into the next
attempt's completion; and the clock fast-forwards the durable ``deploy`` poll and ``rerun``
submit timers instead of sleeping (a timer's due time is the clock, DESIGN §2). The broker's
``time_scale`` (0.1) keeps the first retries as quick as they were when the Triggers retried
from 0.5 s (0.2, 0.4, 0.8 … s) while each Trigger's retry window (≈17 min real, minutes here)
stays far longer than a concurrent duplicate holds its inbox row (409s spend retries too).

Every run is compared with :data:`EXPECTED` — the clean delivery's final state, which the
``clean`` case asserts as well — and the side effects are counted in the fakes' recorded
requests and state, and in Postgres (effects outbox, rerun submissions, dead letters).
"""

from __future__ import annotations

import copy
import json
import pprint
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import httpx
import pytest
import yaml
from pydantic import SecretStr

from shared.argo import payload_from_workflow
from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes import argo as fake_argo
from shared.local.fakes import argocd as fake_argocd
from shared.local.fakes import discord as fake_discord
from shared.local.fakes import facteur as fake_facteur
from shared.local.fakes import github as fake_github
from shared.local.fakes.base import FakeStore, ServedFake, fake_store, serve_fake
from shared.local.mesh import demo
from shared.local.mesh.broker import LocalBroker
from shared.local.mesh.kustomize import kustomize_build, services
from shared.local.mesh.manifests import load_manifests
from shared.local.mesh.replay import send
from shared.local.mesh.supervisor import FAKE_DISCORD_WEBHOOK
from shared.models.events import VERIFIES_RUN_LABEL
from shared.settings import Settings
from tests.support.chaos import Chaos, chaos_proxy

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
TOPIC = "argo.workflows.completions"
HELLO = "Codertocat/Hello-World"
REVERT = "Codertocat/Hello-World-revert"
FAILING = "derekg1729/test-repo"
APPS = {HELLO: "hello-prod", REVERT: "revert-prod"}
RERUN_OF = f"{FAILING}#315"
SEEDS = [1, 2, 3]
#: Upstream transient failures a chaos run injects once each (the fakes count them down).
GITHUB_FAILURES = {"merge": 1, "revert": 1, "create_pull": 1}

#: The final state of a clean delivery; every chaos run must end exactly here.
EXPECTED: dict[str, Any] = {
    "runs": [
        (HELLO, 1, "completed", "deploy_verified", "pass"),
        (REVERT, 1, "needs_iteration", "post_deploy_failed", "pass"),
        (FAILING, 1, "needs_iteration", "ci_failed", "needs_iteration"),
        (FAILING, 2, "needs_iteration", "repeated_failure", "needs_iteration"),
        (FAILING, 3, "needs_human", "attempts_exhausted", "needs_iteration"),
    ],
    "merged": [f"{HELLO}#2", f"{REVERT}#2"],
    "reverted": [f"{REVERT}#2"],
    "deploys": [(HELLO, "verified"), (REVERT, "failed")],
    "submitted_attempts": [(FAILING, 2), (FAILING, 3)],
    # (repository, attempt, kind): by default success and escalations only (issue 5).
    "notices": [
        (HELLO, 1, "success"),
        (REVERT, 1, "deploy_failed"),
        (FAILING, 3, "attempts_exhausted"),
    ],
    "prompt_tuning": [(FAILING, "opened", None, True)],
}


def _load(relative: str) -> Any:
    path = CORPUS / relative
    return (
        yaml.safe_load(path.read_text()) if path.suffix == ".yaml" else json.loads(path.read_text())
    )


def _policy(**extra: Any) -> dict[str, Any]:
    return {"dry_run": False, "ai_reviewer_logins": [demo.AI_REVIEWER], **extra}


POLICIES = {
    HELLO: _policy(
        deploy_mode="argocd",
        argocd_application=APPS[HELLO],
        verify_workflow_template="e2e-verify",
    ),
    REVERT: _policy(
        deploy_mode="argocd",
        argocd_application=APPS[REVERT],
        verify_workflow_template="e2e-verify",
    ),
    FAILING: _policy(
        rerun_target="facteur",
        max_attempts=3,
        backoff_s=[0],
        repeated_failure_outcome="needs_iteration",
        prompt_tuning_threshold=3,
    ),
}


def github_state() -> dict[str, Any]:
    """The demo's recorded GitHub state, plus the passing PR re-keyed to :data:`REVERT`."""
    state = demo.github_state()
    hello = state["pulls"][f"{HELLO}#2"]
    sha = hello["head"]["sha"]
    pull = copy.deepcopy(hello)
    pull["base"]["repo"]["full_name"] = pull["head"]["repo"]["full_name"] = REVERT
    pull["node_id"] = "PR_kwDOrevertHelloWorld2"  # the revert mutation finds PRs by node id
    state["pulls"][f"{REVERT}#2"] = pull
    state["pull_files"][f"{REVERT}#2"] = state["pull_files"][f"{HELLO}#2"]
    state["check_runs"][f"{REVERT}@{sha}"] = state["check_runs"][f"{HELLO}@{sha}"]
    review = dict(state["reviews"][f"{HELLO}#2"][0], id=9005)
    state["reviews"][f"{REVERT}#2"] = [review]
    return state


def completion(corpus: str, repository: str, pr: int, issue: int, attempt: int) -> bytes:
    """The sensor's Kafka record for a recorded workflow carrying one attempt's run metadata."""
    workflow = copy.deepcopy(_load(corpus))
    meta = workflow["metadata"]
    meta["uid"] = f"{meta['uid'][:-4]}{attempt:04d}" if attempt > 1 else meta["uid"]
    meta["name"] = f"{meta['name']}-a{attempt}"
    head = github_state()["pulls"][f"{repository}#{pr}"]["head"]["sha"]
    params = {
        "repository": repository,
        "issue_number": issue,
        "pr_number": pr,
        "head_sha": head,
        "attempt": attempt,
    }
    args = workflow.setdefault("spec", {}).setdefault("arguments", {}).setdefault("parameters", [])
    args.extend({"name": k, "value": str(v)} for k, v in params.items())
    return json.dumps(payload_from_workflow(workflow), default=str).encode()


FIRST_COMPLETIONS = [
    ("argo/workflow.succeeded.wftref-arguments.yaml", HELLO, 2, 1),
    ("argo/workflow.succeeded.artgc-mixed-s3.yaml", REVERT, 2, 7),
    ("argo/workflow.succeeded.subdag-params-s3.yaml", FAILING, 315, 314),
]


def verification_workflow(submitted: dict[str, Any], *, failed: bool) -> dict[str, Any]:
    """A recorded finished workflow wearing the name, labels and parameters deploy submitted."""
    corpus = (
        "argo/workflow.failed.dag-disable-fail-fast.yaml"
        if failed
        else "argo/workflow.succeeded.wftref-arguments.yaml"
    )
    workflow = copy.deepcopy(_load(corpus))
    workflow["metadata"].update(
        name=submitted["metadata"]["name"],
        namespace=submitted["metadata"]["namespace"],
        uid=submitted["metadata"]["uid"],
        labels=dict(submitted["metadata"]["labels"]),
    )
    workflow["spec"]["arguments"] = copy.deepcopy(submitted["spec"]["arguments"])
    return dict(json.loads(json.dumps(workflow, default=str)))


class Stack:
    """One mesh: fakes, chaos-proxied functions, the broker, and the outside-world driver."""

    def __init__(self, deps: Container, serve: Any, chaos: Chaos) -> None:
        self.deps, self.chaos = deps, chaos
        self.db: Database = deps.db
        apps = {
            "github": fake_github.create_app(github_state()),
            "discord": fake_discord.create_app({"retry_after": 0.05}),
            "facteur": fake_facteur.create_app(),
            "argo": fake_argo.create_app(),
            "argocd": fake_argocd.create_app(
                {
                    "applications": {
                        app: fake_argocd.application(app, revision="1" * 40)
                        for app in APPS.values()
                    }
                }
            ),
        }
        self.fakes: dict[str, ServedFake] = {name: serve_fake(app) for name, app in apps.items()}
        self.stores: dict[str, FakeStore] = {name: fake_store(app) for name, app in apps.items()}
        if chaos.seed is not None:
            with self.stores["github"].lock:
                self.stores["github"].state["write_failures"] = dict(GITHUB_FAILURES)
            with self.stores["discord"].lock:
                self.stores["discord"].state["rate_limit_next"] = 1
            with self.stores["facteur"].lock:
                self.stores["facteur"].state["fail_next"] = 1
        s: Settings = deps.settings
        s.github_api_url = self.fakes["github"].url
        s.discord_webhook_url = SecretStr(self.fakes["discord"].url + FAKE_DISCORD_WEBHOOK)
        s.facteur_url = self.fakes["facteur"].url
        s.argo_server_url = self.fakes["argo"].url
        s.argocd_url = self.fakes["argocd"].url
        s.github_write_allowlist = [HELLO, REVERT, FAILING]
        with self.db.transaction() as tx:
            for repository, document in POLICIES.items():
                tx.run(
                    "INSERT INTO codex_judge.policies (repository, document)"
                    " VALUES (:repository, CAST(:document AS jsonb))",
                    repository=repository,
                    document=json.dumps(document),
                )
        s.github_webhook_secrets = [SecretStr(demo.RECORDED_WEBHOOK_SECRET)]
        urls, self.direct = {}, {}
        # Every Service of the build, served in-process (the chaos proxies sit in front of
        # each); source and target as its manifest declares them.
        for manifest in services(kustomize_build(ROOT)):
            service = manifest["metadata"]["name"]
            env = {
                e["name"]: e.get("value")
                for e in manifest["spec"]["template"]["spec"]["containers"][0]["env"]
            }
            app = functions_framework.create_app(  # type: ignore[no-untyped-call]
                target=env["FUNCTION_TARGET"],
                source=str(ROOT / env["FUNCTION_SOURCE"]),
                signature_type=env["FUNCTION_SIGNATURE_TYPE"],
            )
            self.direct[service] = serve(app).url
            urls[service] = serve(
                chaos_proxy(service, self.direct[service], chaos, self.ingress)
            ).url
        manifests = load_manifests(ROOT)
        chaos.retries.update(
            (t.subscriber.ref.name, t.delivery.retry)
            for t in manifests.triggers_of(manifests.broker())
            if t.subscriber.ref is not None and t.delivery is not None and t.delivery.retry
        )
        self.broker = LocalBroker(manifests, urls, time_scale=0.1, ping_interval_s=0.5)
        self.broker.start()
        s.k_sink = self.broker.ingress_url
        self._finished: set[str] = set()
        self._agent_runs: set[str] = set()

    def ingress(self) -> str:
        return self.broker.ingress_url

    def stop(self) -> None:
        self.broker.stop()
        for fake in self.fakes.values():
            fake.stop()

    def state(self, fake: str) -> dict[str, Any]:
        store = self.stores[fake]
        with store.lock:
            return copy.deepcopy(store.state)

    def requests(self, fake: str) -> list[dict[str, Any]]:
        store = self.stores[fake]
        with store.lock:
            return list(store.requests)

    def publish(self, record: bytes, key: str) -> None:
        self.broker.publish_kafka(TOPIC, record, key=key)

    # --- the outside world ---

    def drive(self, timeout_s: float = 50.0) -> None:
        """Play GitHub, Argo, the agent and the clock until every scenario ended and all is
        quiet. GitHub posts its recorded webhooks (derekg1729/test-repo PR #315) straight to
        github-webhook, as it does in production; their projections give prompt-tune the base
        branch's head SHA."""
        with httpx.Client(timeout=30) as client:
            for delivery in demo.webhook_deliveries():
                assert send(delivery, {"functions": self.direct}, client)[1] < 300
        for corpus, repository, pr, issue in FIRST_COMPLETIONS:
            self.publish(completion(corpus, repository, pr, issue, 1), f"{repository}#1")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._fast_forward()
            self._finish_verifications()
            self._agent_reruns()
            if self._ended() and self.chaos.settled() and self.broker.idle(1.0):
                return
            time.sleep(0.2)
        raise AssertionError(f"the scenarios did not end within {timeout_s:.0f} s: {self.runs()}")

    def _fast_forward(self) -> None:
        with self.db.transaction() as tx:
            tx.run(
                "UPDATE runtime.timers SET due_at = now() WHERE done_at IS NULL"
                " AND due_at > now() AND ((owner = 'deploy' AND kind = 'poll')"
                " OR (owner = 'rerun' AND kind = 'submit'))"
            )

    def _finish_verifications(self) -> None:
        store = self.stores["argo"]
        with store.lock:
            submitted = [
                copy.deepcopy(w)
                for w in store.state["workflows"].values()
                if VERIFIES_RUN_LABEL in w["metadata"]["labels"]
                and w["metadata"]["name"] not in self._finished
            ]
        for workflow in submitted:
            repository = workflow["metadata"]["annotations"]["codex-judge.io/repository"]
            finished = verification_workflow(workflow, failed=repository == REVERT)
            key = f"{workflow['metadata']['namespace']}/{workflow['metadata']['name']}"
            with store.lock:
                store.state["workflows"][key] = finished
            self._finished.add(workflow["metadata"]["name"])
            self.publish(json.dumps(payload_from_workflow(finished)).encode(), key)

    def _agent_reruns(self) -> None:
        for task in self.state("facteur")["tasks"]:
            delivery = task["delivery_id"]
            if delivery in self._agent_runs:
                continue
            self._agent_runs.add(delivery)
            attempt = int(delivery.rsplit(":", 1)[1])
            record = completion(
                "argo/workflow.succeeded.subdag-params-s3.yaml", FAILING, 315, 314, attempt
            )
            self.publish(record, f"{FAILING}#{attempt}")

    def _ended(self) -> bool:
        runs = {(r["repository"], r["attempt"]): r for r in self.runs()}
        last = runs.get((FAILING, 3))
        return (
            runs.get((HELLO, 1), {}).get("status") == "completed"
            and runs.get((REVERT, 1), {}).get("reason") == "post_deploy_failed"
            and last is not None
            and last["status"] == "needs_human"
        )

    # --- reading the outcome ---

    def runs(self) -> list[dict[str, Any]]:
        with self.db.transaction() as tx:
            return tx.all(
                "SELECT r.id, r.repository, r.attempt, r.status, r.reason,"
                " (SELECT e.decision FROM codex_judge.evaluations e WHERE e.run_id = r.id"
                "   ORDER BY e.id DESC LIMIT 1) AS decision"
                " FROM codex_judge.runs r ORDER BY r.repository, r.attempt"
            )

    def outcome(self) -> dict[str, Any]:
        """The final state, keyed by (repository, attempt) so run ids do not matter."""
        runs = self.runs()
        by_id = {r["id"]: (r["repository"], r["attempt"]) for r in runs}
        github = self.state("github")
        with self.db.transaction() as tx:
            deploys = tx.all(
                "SELECT repository, state FROM codex_judge.deploys ORDER BY repository"
            )
            notices = tx.all(
                "SELECT idempotency_key FROM runtime.effects"
                " WHERE idempotency_key LIKE 'discord:%' AND state = 'done'"
            )
            tuning = tx.all(
                "SELECT repository, state, error, pr_number IS NOT NULL AS opened"
                " FROM codex_judge.prompt_tuning"
            )
        noticed = []
        for row in notices:
            _, run_id, kind = row["idempotency_key"].split(":", 2)
            noticed.append((*by_id[int(run_id)], kind))
        return {
            "runs": [
                (r["repository"], r["attempt"], r["status"], r["reason"], r["decision"])
                for r in runs
            ],
            "merged": sorted(f"{m['repository']}#{m['number']}" for m in github["merges"]),
            "reverted": sorted(
                f"{key.split('#')[0]}#{r['reverted_number']}"
                for r in github["reverts"]
                for key, pull in github["pulls"].items()
                if pull["node_id"] == r["id"]
            ),
            "deploys": [(d["repository"], d["state"]) for d in deploys],
            "submitted_attempts": sorted(
                (FAILING, int(t["delivery_id"].rsplit(":", 1)[1]))
                for t in self.state("facteur")["tasks"]
            ),
            "notices": sorted(noticed),
            "prompt_tuning": sorted(
                (r["repository"], r["state"], r["error"], r["opened"]) for r in tuning
            ),
        }


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """This module's settings: a pool large enough for thirteen in-thread functions."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        github_api_url="http://127.0.0.1:9",
        llm_base_url=None,
        db_pool_size=48,
        log_level="WARNING",
    )


@pytest.fixture(params=[None, *SEEDS], ids=lambda seed: "clean" if seed is None else f"seed{seed}")
def stack(request: pytest.FixtureRequest, deps: Container, serve: Any) -> Iterator[Stack]:
    started = Stack(deps, serve, Chaos(request.param))
    try:
        started.drive()
        yield started
    finally:
        started.stop()


def _calls(stack: Stack, fake: str, method: str, path_part: str) -> int:
    return sum(1 for r in stack.requests(fake) if r["method"] == method and path_part in r["path"])


def test_duplicated_reordered_failing_delivery_ends_as_clean_with_each_effect_once(
    stack: Stack,
) -> None:
    outcome = stack.outcome()
    assert outcome == EXPECTED, pprint.pformat(
        {"outcome": outcome, "chaos": dict(stack.chaos.stats)}, width=100
    )
    injected = stack.chaos.seed is not None
    if injected:  # the run really was duplicated, failed and lost answers
        assert min(stack.chaos.stats[k] for k in ("duplicate", "fail_before", "lose_answer")) > 0
    github = stack.state("github")

    # One merge per PR, and no merge call beyond the one the fake failed on purpose.
    merged = Counter(f"{m['repository']}#{m['number']}" for m in github["merges"])
    assert set(merged.values()) == {1}
    assert _calls(stack, "github", "PUT", "/merge") == len(github["merges"]) + injected

    # One revert, sent once (plus the injected 502).
    reverts = [r for r in stack.requests("github") if "revertPullRequest" in str(r["json"] or {})]
    assert len(github["reverts"]) == 1
    assert len(reverts) == 1 + injected

    # One prompt-tuning PR, created once (plus the injected 502).
    tuning = [p for p in github["created_pulls"] if p["title"].startswith("Tune the Codex prompt")]
    assert len(tuning) == 1
    assert _calls(stack, "github", "POST", f"/repos/{FAILING}/pulls") == 1 + injected

    # One Discord message per (run, kind): as many messages as notice effects, no repeats.
    messages = stack.state("discord")["messages"]
    assert len(messages) == len(EXPECTED["notices"])
    assert len({m["content"] for m in messages}) == len(messages)
    assert _calls(stack, "discord", "POST", "/api/webhooks/") == len(messages) + injected

    # One Facteur submission per attempt (the fake answers a repeated delivery id 200
    # "duplicate" without recording it, so count the requests too).
    tasks = stack.state("facteur")["tasks"]
    assert sorted(t["delivery_id"].rsplit(":", 1)[1] for t in tasks) == ["2", "3"]
    assert _calls(stack, "facteur", "POST", "/codex/tasks") == len(tasks) + injected

    # Nothing was dead-lettered: chaos stayed within every Trigger's retry budget.
    with stack.db.transaction() as tx:
        letters = tx.all(
            "SELECT subscriber, event_type, error_code, error_body FROM runtime.dead_letters"
        )
        submissions = tx.all(
            "SELECT attempt, state FROM codex_judge.rerun_submissions ORDER BY attempt"
        )
    assert letters == []
    assert submissions == [
        {"attempt": 2, "state": "submitted"},
        {"attempt": 3, "state": "submitted"},
    ]
