"""GitHub requests and GraphQL points per judged run over the whole pipeline (issue 12).

Scenario: a passing run on a realistic pull request — :data:`CHECK_RUNS` completed check runs
in one suite (recorded Cogni check runs), :data:`THREADS` resolved review threads, an approving
AI review at the head SHA and :data:`FILES` changed files — goes through every function the
Triggers in ``triggers/*.yaml`` route its events to, in process, each event through the inbox
(:func:`shared.runtime.inbox.process`), the real HTTP adapter against the fake GitHub over
loopback HTTP, and Postgres: ``run.completed`` → ci-status, review-gate, judge; their replies →
judge; ``judge.decided`` (pass) → merge and the other subscribers; ``pr.merged`` → its
subscribers. Counted from the fake's request log: every request (reads and writes) and the
GraphQL requests; the GraphQL points the adapter was charged (the sum of the answers'
``rateLimit.cost``) and those the functions recorded on the run (``github_graphql_points``).

Run: ``python -m bench.github_requests`` (prints ``name: value`` lines); ``make bench`` runs
it too. :func:`judged_run` is what the request-count test asserts on.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import logging
import sys
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.bootstrap import Container, build  # noqa: E402
from shared.db import Database, bootstrap_database  # noqa: E402
from shared.db.embedded import start_embedded  # noqa: E402
from shared.db.migrate import apply_migrations  # noqa: E402
from shared.local.fakes.base import ServedFake, serve_fake  # noqa: E402
from shared.local.fakes.github import create_app  # noqa: E402
from shared.local.mesh.filters import trigger_matches  # noqa: E402
from shared.local.mesh.manifests import Trigger, parse_documents, read_documents  # noqa: E402
from shared.models.events import RUN_COMPLETED  # noqa: E402
from shared.runtime.envelope import Envelope, OutgoingEvent  # noqa: E402
from shared.runtime.inbox import process  # noqa: E402
from shared.settings import Settings  # noqa: E402

HOOKS = ROOT / "tests/fixtures/corpus/github-webhooks"
REPO = "derekg1729/test-repo"
CHECK_RUNS = 40
THREADS = 3
FILES = 25
REVIEWER = "chatgpt-codex-connector[bot]"
SUITE_ID = 9_000_001
MAX_HOPS = 50


def _recorded(name: str, key: str) -> dict[str, Any]:
    raw = json.loads((HOOKS / name).read_text())
    return dict(json.loads(base64.b64decode(raw["body_raw_base64"]))[key])


def realistic_state(budget: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fake GitHub's state for one passing PR, and that PR (REST shape)."""
    pull = _recorded("pull_request.opened.cogni-delivery.json", "pull_request")
    pull.update(mergeable=True, mergeable_state="clean", merged=False, state="open")
    repo, number, sha = REPO, int(pull["number"]), pull["head"]["sha"]
    done = _recorded("check_run.completed.skipped.cogni-delivery.json", "check_run")
    runs = []
    for index in range(CHECK_RUNS):
        check = copy.deepcopy(done)
        check.update(id=1000 + index, name=f"job-{index:02d}", head_sha=sha)
        check.update(conclusion="success", check_suite={"id": SUITE_ID})
        runs.append(check)
    suite = {
        "id": SUITE_ID,
        "head_sha": sha,
        "status": "completed",
        "conclusion": "success",
        "app": done.get("app"),
        "latest_check_runs_count": CHECK_RUNS,
    }
    files = [
        {
            "filename": f"src/module_{index:02d}.py",
            "status": "modified",
            "additions": 2,
            "deletions": 1,
            "changes": 3,
            "patch": f"@@ -1,2 +1,3 @@\n-old = {index}\n+new = {index}\n+more = {index}\n ok\n",
        }
        for index in range(FILES)
    ]
    threads = [
        {
            "id": f"PRRT_thread{index}",
            "isResolved": True,
            "isOutdated": False,
            "path": files[index]["filename"],
            "line": 2,
            "comments": {
                "nodes": [{"author": {"login": REVIEWER}, "body": f"nit {index}", "url": None}]
            },
        }
        for index in range(THREADS)
    ]
    review = {
        "id": 77,
        "user": {"login": REVIEWER, "type": "Bot"},
        "state": "APPROVED",
        "body": "LGTM",
        "commit_id": sha,
        "submitted_at": "2025-10-12T00:10:00Z",
    }
    key = f"{repo}#{number}"
    state: dict[str, Any] = {
        "pulls": {key: pull},
        "pull_files": {key: files},
        "check_runs": {f"{repo}@{sha}": runs},
        "check_suites": {f"{repo}@{sha}": [suite]},
        "reviews": {key: [review]},
        "review_threads": {key: threads},
    }
    if budget is not None:
        state["rate_limit"] = {"remaining": budget}
    return state, pull


def _triggers() -> list[Trigger]:
    paths = sorted((ROOT / "triggers").glob("*.yaml"))
    return parse_documents(read_documents(paths)).triggers


@dataclass
class Counts:
    """What one judged run cost at GitHub."""

    requests: int = 0
    graphql_requests: int = 0
    graphql_points: int = 0
    recorded_points: int = 0
    writes: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    decisions: list[str] = field(default_factory=list)
    delivered: Counter[str] = field(default_factory=Counter)


def _route(entry: dict[str, Any]) -> str:
    if entry["path"].endswith("/graphql"):
        query = (entry.get("json") or {}).get("query") or ""
        from graphql import OperationDefinitionNode, parse

        ops = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
        return "graphql " + (ops[0].name.value if ops and ops[0].name else "?")
    accept = (entry.get("headers") or {}).get("Accept", "")
    diff = " (diff)" if "diff" in accept else ""
    return f"{entry['method']} {entry['path']}{diff}"


def judged_run(deps: Container, fake: ServedFake, pull: dict[str, Any]) -> Counts:
    """Insert a run waiting for CI on ``pull``, deliver ``run.completed`` and every reply to
    the subscribers the Triggers name until nothing is left; the fake's log, counted."""
    with deps.db.transaction() as tx:
        row = tx.one(
            "INSERT INTO codex_judge.runs (workflow_uid, status, phase, repository, issue_number,"
            " attempt, head_sha, head_ref, base_ref, pr_number) VALUES (:uid, 'waiting_for_ci',"
            " 'Succeeded', :repo, 1, 1, :sha, :head, :base, :pr) RETURNING id",
            uid=f"bench-{pull['head']['sha']}",
            repo=REPO,
            sha=pull["head"]["sha"],
            head=pull["head"]["ref"],
            base=pull["base"]["ref"],
            pr=int(pull["number"]),
        )
        assert row is not None
    run_id = int(row["id"])
    httpx.delete(f"{fake.url}/_fake/requests").raise_for_status()
    points_before = _points(deps)
    triggers = _triggers()
    counts = Counts()
    first = OutgoingEvent(
        type=RUN_COMPLETED,
        source="/codex-judge/run-complete",
        id=f"run-completed-{run_id}",
        data={
            "run_id": run_id,
            "workflow_uid": f"uid-{run_id}",
            "phase": "Succeeded",
            "status": "waiting_for_ci",
        },
        subject=str(run_id),
    )
    queue: deque[OutgoingEvent] = deque([first])
    hops = 0
    while queue:
        hops += 1
        assert hops <= MAX_HOPS, "the pipeline did not settle"
        event = queue.popleft()
        attributes = {"type": event.type, "source": event.source, **event.extensions}
        if event.type == "io.codexjudge.judge.decided.v1":
            counts.decisions.append(str(event.extensions.get("decision")))
        for trigger in triggers:
            if not trigger_matches(trigger.attributes, trigger.filters, attributes):
                continue
            ref = trigger.subscriber.ref
            assert ref is not None
            counts.delivered[ref.name] += 1
            routes = importlib.import_module(f"functions.{ref.name.replace('-', '_')}.main")
            envelope = Envelope(
                id=event.id,
                source=event.source,
                type=event.type,
                subject=event.subject,
                data=json.dumps(event.data).encode(),
                extensions=dict(event.extensions),
            )
            reply = process(ref.name, routes.ROUTES.dispatch, envelope, deps)
            if reply is not None:
                queue.append(reply)
    log = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    counts.requests = len(log)
    counts.graphql_requests = sum(1 for e in log if e["path"].endswith("/graphql"))
    counts.writes = sum(1 for e in log if e["method"] in ("PUT", "PATCH", "DELETE"))
    counts.by_route = Counter(_route(e) for e in log)
    counts.graphql_points = _points(deps) - points_before
    with deps.db.transaction() as tx:
        recorded = tx.one(
            "SELECT github_graphql_points FROM codex_judge.runs WHERE id = :id", id=run_id
        )
    counts.recorded_points = int(recorded["github_graphql_points"]) if recorded else 0
    return counts


def _points(deps: Container) -> int:
    """The GraphQL points the process's GitHub adapter was charged (``rateLimit.cost``)."""
    return int(getattr(deps.github(), "graphql_points", 0))


def _fresh_database(url: str, name: str) -> str:
    db_url = bootstrap_database(url, name, "codex_judge_app", recreate=True)
    apply_migrations(Database(db_url, size=1))
    return db_url


def measure() -> dict[str, Any]:
    """One passing run through the whole pipeline on a fresh database of the embedded Postgres."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake's access log
    url, server = start_embedded(ROOT / ".data")
    state, pull = realistic_state(budget=1_000_000)
    fake = serve_fake(create_app(state))
    settings = Settings(
        database_url=_fresh_database(url, "codex_judge_bench_gh"),
        github_api_url=fake.url,
        github_token=SecretStr("bench-token"),
        github_write_allowlist=[REPO],
        llm_base_url=None,
        log_level="WARNING",
    )
    deps = build(settings)
    try:
        counts = judged_run(deps, fake, pull)
    finally:
        fake.stop()
        deps.db.close()
        del server
    return {
        "github_requests_per_judged_run": counts.requests,
        "github_graphql_requests_per_judged_run": counts.graphql_requests,
        "github_graphql_points_per_judged_run": counts.graphql_points,
        "github_graphql_points_recorded_on_the_run": counts.recorded_points,
        "github_writes_per_judged_run": counts.writes,
        "github_requests_by_route": dict(sorted(counts.by_route.items())),
        "judge_decisions_per_judged_run": len(counts.decisions),
    }


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {json.dumps(value) if isinstance(value, dict) else value}")
