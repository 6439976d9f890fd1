"""Events per second through run-complete over HTTP with Postgres, against an empty
functions-framework handler measured in the same run, reported as a ratio (DESIGN §14).

Both are real functions-framework processes (gunicorn, ``WORKERS`` = cores, ``THREADS`` = 1)
fed by the same client: binary-mode CloudEvents shaped as a KafkaSource delivers them, each a
distinct Argo completion (a new workflow uid), so run-complete does its full work per event:
inbox claim, completion dedupe, run upsert with attempt, artifacts, reply.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.db import Database, bootstrap_database  # noqa: E402
from shared.db.embedded import start_embedded  # noqa: E402
from shared.db.migrate import apply_migrations  # noqa: E402
from shared.local.mesh.processes import free_port, wait_ready  # noqa: E402

SOURCE = (
    "/apis/v1/namespaces/codex-judge/kafkasources/argo-workflow-completions"
    "#argo.workflows.completions"
)
EVENTS = int(os.environ.get("BENCH_EVENTS", "400"))
CLIENTS = 4
ROUNDS = 3


def _start(source: Path, env: dict[str, str]) -> tuple[object, str]:
    import subprocess

    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("functions-framework")),
            "--target",
            "handle",
            "--signature-type",
            "http",
            "--source",
            str(source),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc=proc)
    return proc, url


def _bodies(n: int) -> list[bytes]:
    from shared.argo import payload_from_workflow

    base = yaml.safe_load(
        (ROOT / "tests/fixtures/corpus/argo/workflow.succeeded.artgc-mixed-s3.yaml").read_text()
    )
    base.setdefault("spec", {}).setdefault("arguments", {})["parameters"] = []
    out = []
    for i in range(n):
        wf = copy.deepcopy(base)
        wf["metadata"]["uid"] = str(uuid.uuid4())
        wf["spec"]["arguments"]["parameters"] = [
            {"name": "repository", "value": "bench/repo"},
            {"name": "issue_number", "value": str(i + 1)},
            {"name": "head_sha", "value": f"{i:040x}"},
        ]
        out.append(json.dumps(payload_from_workflow(wf)).encode())
    return out


def _blast(url: str, bodies: list[bytes], offset: int) -> float:
    """Send every body; returns events per second (all must be answered 2xx)."""

    def send(item: tuple[int, bytes]) -> int:
        n, body = item
        headers = {
            "ce-specversion": "1.0",
            "ce-type": "dev.knative.kafka.event",
            "ce-source": SOURCE,
            "ce-id": f"partition:0/offset:{offset + n}",
            "ce-subject": f"partition:0#{offset + n}",
        }
        return client.post(url, content=body, headers=headers).status_code

    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=CLIENTS)) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            codes = list(pool.map(send, enumerate(bodies)))
        elapsed = time.perf_counter() - started
    bad = [c for c in codes if c >= 300]
    if bad:
        raise SystemExit(f"{len(bad)} events failed, e.g. HTTP {bad[0]}")
    return len(bodies) / elapsed


def main() -> int:
    url, server = start_embedded(ROOT / ".data")
    # As CNPG bootstraps it: a non-superuser owner, the extensions created by the superuser.
    db_url = bootstrap_database(url, "codex_judge_bench", "codex_judge_app", recreate=True)
    apply_migrations(Database(db_url, size=1))
    workers = str(os.cpu_count() or 1)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "WORKERS": workers,
        "THREADS": "1",
        "CODEX_JUDGE_LOG_LEVEL": "WARNING",
    }
    procs = []
    try:
        baseline_proc, baseline = _start(ROOT / "bench/empty_function.py", env)
        procs.append(baseline_proc)
        subject_proc, subject = _start(ROOT / "functions/run_complete/main.py", env)
        procs.append(subject_proc)
        bodies = _bodies(EVENTS * (ROUNDS + 1))
        _blast(baseline, bodies[:50], 0)  # warm-up: imports, connections
        _blast(subject, bodies[:50], 0)
        floor, rate = [], []
        for r in range(ROUNDS):
            chunk = bodies[EVENTS * (r + 1) : EVENTS * (r + 2)]
            floor.append(_blast(baseline, chunk, EVENTS * (r + 1)))
            rate.append(_blast(subject, chunk, EVENTS * (r + 1)))
        f, s = statistics.median(floor), statistics.median(rate)
        print(
            json.dumps(
                {
                    "benchmark": "run-complete events/s over HTTP with Postgres",
                    "events_per_round": EVENTS,
                    "rounds": ROUNDS,
                    "clients": CLIENTS,
                    "workers": workers,
                    "baseline_empty_handler_eps": round(f, 1),
                    "run_complete_eps": round(s, 1),
                    "ratio": round(s / f, 3),
                },
                indent=2,
            )
        )
        from bench.agents import measure as agent_messages  # issue 15: NATS → Postgres → SSE

        for name, value in agent_messages(db_url).items():
            print(f"{name}: {value}")
    finally:
        for proc in procs:
            proc.terminate()  # type: ignore[attr-defined]
        del server
    from bench.judge import measure  # the judge's costs per evaluation (issue 4)

    print(json.dumps(measure(), indent=2))
    from bench.github_requests import measure as github_requests  # issue 12: whole pipeline

    for name, value in github_requests().items():
        print(f"{name}: {json.dumps(value) if isinstance(value, dict) else value}")
    from bench.antigaming import report as antigaming  # issue 11: catch and false-block rates

    antigaming()  # prints its lines as it measures them
    from bench.worktrees import main as worktrees  # issue 13: snapshot vs a plain clone

    worktrees()
    return 0


if __name__ == "__main__":
    sys.exit(main())
