"""GitHub requests per judged run, with and without ETag caching (issue 3 "GitHub client").

Scenario (the demo's shape, through the real ci-status use case, the real HTTP adapter, the
fake GitHub over loopback HTTP and Postgres): each run's commit carries :data:`CHECKS` recorded
check runs, one of them (CodeQL) still queued. ``run.completed`` reads the check runs (every
page), the combined status and the check suites, and waits; the reconcile re-reads the same
commit :data:`POLLS` times while nothing changes (a lost webhook, level-triggered); then CodeQL
completes and one last re-read concludes the run. The same scenario runs twice on fresh
databases: with the Postgres ETag cache (conditional GETs; a 304 costs no rate limit) and
without. Reported per judged run: requests sent, requests answered 304, and the rate-limit
cost (requests GitHub counted).

Run: ``python -m bench.github_requests`` (prints one JSON object); ``make bench`` runs it too.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import sys
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from functions.ci_status.main import ROUTES  # noqa: E402
from shared.bootstrap import build  # noqa: E402
from shared.db import Database, bootstrap_database  # noqa: E402
from shared.db.embedded import start_embedded  # noqa: E402
from shared.db.migrate import apply_migrations  # noqa: E402
from shared.local.fakes.base import ServedFake, serve_fake  # noqa: E402
from shared.local.fakes.github import create_app  # noqa: E402
from shared.models.events import RUN_COMPLETED  # noqa: E402
from shared.runtime.envelope import Envelope  # noqa: E402
from shared.runtime.inbox import process  # noqa: E402
from shared.settings import Settings  # noqa: E402

HOOKS = ROOT / "tests/fixtures/corpus/github-webhooks"
REPO = "derekg1729/test-repo"
RUNS = 5
POLLS = 10
CHECKS = 40
BUDGET = 1_000_000


def _recorded_check(name: str) -> dict[str, Any]:
    raw = json.loads((HOOKS / name).read_text())
    return dict(json.loads(base64.b64decode(raw["body_raw_base64"]))["check_run"])


def _checks(sha: str, codeql_done: bool) -> list[dict[str, Any]]:
    done = _recorded_check("check_run.completed.skipped.cogni-delivery.json")
    queued = _recorded_check("check_run.created.cogni-delivery.json")
    out = []
    for index in range(CHECKS - 1):
        check = copy.deepcopy(done)
        check.update(id=1000 + index, name=f"job-{index:02d}", head_sha=sha, conclusion="success")
        out.append(check)
    codeql = copy.deepcopy(queued)
    codeql.update(head_sha=sha)
    if codeql_done:
        codeql.update(status="completed", conclusion="success", completed_at="2025-10-12T00:09Z")
    return [*out, codeql]


def _fresh_database(url: str, name: str) -> str:
    db_url = bootstrap_database(url, name, "codex_judge_app", recreate=True)
    apply_migrations(Database(db_url, size=1))
    return db_url


def _event(run_id: int, n: int) -> Envelope:
    data = {
        "run_id": run_id,
        "workflow_uid": f"uid-{run_id}",
        "phase": "Succeeded",
        "status": "waiting_for_ci",
    }
    return Envelope(
        id=f"bench-{run_id}-{n}",
        source="/bench",
        type=RUN_COMPLETED,
        data=json.dumps(data).encode(),
    )


def _seed(fake: ServedFake, shas: list[str], codeql_done: bool) -> None:
    state = httpx.get(f"{fake.url}/_fake/state").json()
    state["check_runs"] = {f"{REPO}@{sha}": _checks(sha, codeql_done) for sha in shas}
    httpx.put(f"{fake.url}/_fake/state", json=state).raise_for_status()


def scenario(db_url: str, *, etag_cache: bool) -> dict[str, Any]:
    """Judge :data:`RUNS` runs' CI through the scenario; GitHub's counts per judged run."""
    fake = serve_fake(create_app({"rate_limit": {"remaining": BUDGET}}))
    settings = Settings(
        database_url=db_url,
        github_api_url=fake.url,
        github_token=SecretStr("bench-token"),
        github_etag_cache=etag_cache,
        log_level="WARNING",
    )
    deps = build(settings)
    try:
        shas = [f"{index:040x}" for index in range(1, RUNS + 1)]
        run_ids = []
        with deps.db.transaction() as tx:
            for index, sha in enumerate(shas):
                row = tx.one(
                    "INSERT INTO codex_judge.runs (workflow_uid, status, repository, issue_number,"
                    " attempt, head_sha, pr_number) VALUES (:uid, 'waiting_for_ci', :repo, :n, 1,"
                    " :sha, :n) RETURNING id",
                    uid=f"bench-{sha}",
                    repo=REPO,
                    n=index + 1,
                    sha=sha,
                )
                assert row is not None
                run_ids.append(int(row["id"]))
        _seed(fake, shas, codeql_done=False)
        for poll in range(POLLS + 1):  # run.completed, then the reconcile re-reads
            for run_id in run_ids:
                assert process("ci-status", ROUTES.dispatch, _event(run_id, poll), deps) is None
        _seed(fake, shas, codeql_done=True)
        for run_id in run_ids:
            concluded = process("ci-status", ROUTES.dispatch, _event(run_id, POLLS + 1), deps)
            assert concluded is not None and concluded.data["verdict"] == "success"
        state = httpx.get(f"{fake.url}/_fake/state").json()
        sent = len(httpx.get(f"{fake.url}/_fake/requests").json()["requests"])
        not_modified = int(state["stats"]["not_modified"])
        cost = BUDGET - int(state["rate_limit"]["remaining"])
        return {
            "requests_per_judged_run": round(sent / RUNS, 1),
            "not_modified_per_judged_run": round(not_modified / RUNS, 1),
            "rate_limit_cost_per_judged_run": round(cost / RUNS, 1),
        }
    finally:
        fake.stop()
        deps.db.close()


def measure() -> dict[str, Any]:
    """Both modes on fresh databases of the embedded Postgres; one JSON-friendly dict."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the fake's access log
    url, server = start_embedded(ROOT / ".data")
    try:
        with_cache = scenario(_fresh_database(url, "codex_judge_bench_gh1"), etag_cache=True)
        without = scenario(_fresh_database(url, "codex_judge_bench_gh2"), etag_cache=False)
    finally:
        del server
    saved = (
        1 - with_cache["rate_limit_cost_per_judged_run"] / without["rate_limit_cost_per_judged_run"]
    )
    return {
        "benchmark": "GitHub requests per judged run (ci-status: run.completed, "
        f"{POLLS} reconcile re-reads, the concluding read; {CHECKS} check runs per commit)",
        "runs": RUNS,
        "with_etag_cache": with_cache,
        "without_etag_cache": without,
        "rate_limit_saved_by_etags": round(saved, 3),
    }


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
