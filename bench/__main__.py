"""``make bench``: costs reported as ratios against floors measured in the same run (DESIGN §14,
issue 12), one ``name: value`` line each.

* ``run_complete_vs_floor``: events per second through run-complete over HTTP with Postgres ÷
  the floor, a functions-framework handler doing one prepared Postgres transaction over a kept
  connection (:mod:`bench.floor_function`). Both are real functions-framework processes
  (gunicorn, ``WORKERS`` = cores, ``THREADS`` = 1) fed by the same client: binary-mode
  CloudEvents shaped as a KafkaSource delivers them, each a distinct Argo completion (a new
  workflow uid), so run-complete does its full work per event. The median over ``ROUNDS``
  rounds of each round's ratio, floor and subject measured one after the other.
* ``scale_10e5_vs_10e3``: run-complete's events per second against a database holding 10⁵
  runs (seeded in batches, :mod:`bench.seed`) ÷ the same against the one
  ``run_complete_vs_floor`` used (about 2·10³ runs by then): two run-complete processes, one
  per database (both vacuumed and checkpointed first, :func:`_settle`), fed the same events in
  alternating rounds; the median of the per-round ratios. The two sizes meet the same load,
  so it cancels out; an earlier version divided each size by the floor of its own rounds, and
  the floor alone moved by up to 29 % between the two halves (957 vs 1,236 events per
  second).
* ``cold_start_vs_floor``: seconds from spawning run-complete to its first answered event ÷ the
  same for a bare functions-framework process with the same imports (:mod:`bench.cold_floor`);
  median of ``COLD_ROUNDS``.
* ``judge_vs_floor``: the judge's decisions per second (each a whole decision for its own run,
  with its GitHub reads from the fake over HTTP) ÷ the same floor, same client
  (:mod:`bench.judge_floor`).
* then the agent-message, judge and GitHub-request lines of the earlier issues.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import seed_runs  # noqa: E402
from shared.db import Database, bootstrap_database  # noqa: E402
from shared.db.embedded import start_embedded  # noqa: E402
from shared.db.migrate import apply_migrations  # noqa: E402
from shared.local.mesh.processes import free_port, wait_ready  # noqa: E402

SOURCE = (
    "/apis/v1/namespaces/codex-judge/kafkasources/argo-workflow-completions"
    "#argo.workflows.completions"
)
EVENTS = int(os.environ.get("BENCH_EVENTS", "400"))
JUDGE_EVENTS = int(os.environ.get("BENCH_JUDGE_EVENTS", "100"))
CLIENTS = 4
ROUNDS = 5
COLD_ROUNDS = 3
SCALE_RUNS = 100_000


def _spawn(source: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """A functions-framework process serving ``source`` on 127.0.0.1:``port``."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("functions-framework")),
            *("--target", "handle", "--signature-type", "http", "--source", str(source)),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _start(source: Path, env: dict[str, str]) -> tuple[object, str]:
    port = free_port()
    proc = _spawn(source, env, port)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc=proc)
    return proc, url


def _cold_start_s(source: Path, env: dict[str, str], body: bytes, offset: int) -> float:
    """Seconds from spawning a functions-framework process to its first 2xx answer to ``body``."""
    port = free_port()
    started = time.perf_counter()
    proc = _spawn(source, env, port)
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "dev.knative.kafka.event",
        "ce-source": SOURCE,
        "ce-id": f"partition:0/offset:{offset}",
        "ce-subject": f"partition:0#{offset}",
    }
    try:
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() - started < 60:
                try:
                    answer = client.post(f"http://127.0.0.1:{port}", content=body, headers=headers)
                except httpx.TransportError:
                    time.sleep(0.005)
                    continue
                if answer.status_code < 300:
                    return time.perf_counter() - started
                raise SystemExit(f"cold start of {source.name}: HTTP {answer.status_code}")
        raise SystemExit(f"cold start of {source.name}: no answer within 60 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
    """Send every body as a Kafka record's CloudEvent; returns events per second."""
    return _send_all(
        url,
        [
            (
                {
                    "ce-specversion": "1.0",
                    "ce-type": "dev.knative.kafka.event",
                    "ce-source": SOURCE,
                    "ce-id": f"partition:0/offset:{offset + n}",
                    "ce-subject": f"partition:0#{offset + n}",
                },
                body,
            )
            for n, body in enumerate(bodies)
        ],
    )


def _send_all(url: str, deliveries: list[tuple[dict[str, str], bytes]]) -> float:
    """POST every (headers, body) from ``CLIENTS`` threads; returns deliveries per second (all
    must be answered 2xx)."""

    def send(delivery: tuple[dict[str, str], bytes]) -> int:
        headers, body = delivery
        return client.post(url, content=body, headers=headers).status_code

    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=CLIENTS)) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            codes = list(pool.map(send, deliveries))
        elapsed = time.perf_counter() - started
    bad = [c for c in codes if c >= 300]
    if bad:
        raise SystemExit(f"{len(bad)} events failed, e.g. HTTP {bad[0]}")
    return len(deliveries) / elapsed


def _judge_vs_floor(db: Database, env: dict[str, str], floor: str) -> tuple[float, float]:
    """Median decisions per second of the judge and of the floor (:mod:`bench.judge_floor`)."""
    from bench.judge_floor import events, fake_github, seed_runs

    github = fake_github()
    judge_proc, judge = _start(
        ROOT / "functions/judge/main.py", {**env, "CODEX_JUDGE_GITHUB_API_URL": github.url}
    )
    try:
        deliveries = events(seed_runs(db, 1, JUDGE_EVENTS * (ROUNDS + 1)))
        _send_all(judge, deliveries[:JUDGE_EVENTS])  # warm-up
        floor_eps, judge_eps = [], []
        for r in range(1, ROUNDS + 1):
            chunk = deliveries[JUDGE_EVENTS * r : JUDGE_EVENTS * (r + 1)]
            floor_eps.append(_send_all(floor, chunk))
            judge_eps.append(_send_all(judge, chunk))
        return statistics.median(judge_eps), statistics.median(floor_eps)
    finally:
        judge_proc.terminate()  # type: ignore[attr-defined]
        github.stop()


def _settle(db: Database, admin_url: str) -> None:
    """Bring ``db`` to the state a long-running database is in: ``VACUUM (ANALYZE)`` (hint
    bits, visibility map and statistics, as autovacuum leaves a database that grew over days)
    and a ``CHECKPOINT`` (dirty pages written), so neither the vacuum of a bulk insert nor its
    checkpoint runs inside the rounds."""
    with db.connection() as con:
        con.run("VACUUM (ANALYZE)")
    admin = Database(admin_url, size=1)  # CHECKPOINT needs the superuser (or pg_checkpoint)
    try:
        with admin.connection() as con:
            con.run("CHECKPOINT")
    finally:
        admin.close()


def _line(name: str, value: object) -> None:
    print(f"{name}: {value}", flush=True)


def _rounds(base: str, subject: str, bodies: list[bytes], first: int) -> tuple[float, float, float]:
    """``ROUNDS`` rounds, each ``base`` (the floor, or run-complete on the small database) then
    ``subject`` on the next ``EVENTS`` bodies.

    Returns:
        The median of the per-round ratios subject ÷ base (each ratio from two measurements
        seconds apart, so a change in the machine's load between rounds cancels out), and the
        median events per second of the base and of the subject.
    """
    base_eps, subject_eps = [], []
    for r in range(ROUNDS):
        at = first + EVENTS * r
        chunk = bodies[at : at + EVENTS]
        base_eps.append(_blast(base, chunk, at))
        subject_eps.append(_blast(subject, chunk, at))
    ratio = statistics.median(s / b for s, b in zip(subject_eps, base_eps, strict=True))
    return ratio, statistics.median(base_eps), statistics.median(subject_eps)


def main() -> int:
    url, server = start_embedded(ROOT / ".data")
    # As CNPG bootstraps it: a non-superuser owner, the extensions created by the superuser.
    db_url = bootstrap_database(url, "codex_judge_bench", "codex_judge_app", recreate=True)
    db = Database(db_url, size=1)
    apply_migrations(db)
    workers = str(os.cpu_count() or 1)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "WORKERS": workers,
        "THREADS": "1",
        "CODEX_JUDGE_LOG_LEVEL": "WARNING",
    }
    procs = []
    bodies = _bodies(EVENTS * (3 * ROUNDS + 1) + 2 * COLD_ROUNDS + 50)
    try:
        floor_proc, floor = _start(ROOT / "bench/floor_function.py", env)
        procs.append(floor_proc)
        subject_proc, subject = _start(ROOT / "functions/run_complete/main.py", env)
        procs.append(subject_proc)
        _blast(floor, bodies[:50], 0)  # warm-up: imports, connections, prepared statements
        _blast(subject, bodies[:50], 0)
        small, f, s = _rounds(floor, subject, bodies, 50)
        _line("run_complete_vs_floor", round(small, 3))
        _line("run_complete_eps", round(s, 1))
        _line("floor_prepared_tx_eps", round(f, 1))
        _line("workers", workers)
        stored = int(db.statement("SELECT count(*) AS n FROM codex_judge.runs")[0]["n"])
        large_url = bootstrap_database(
            url, "codex_judge_bench_large", "codex_judge_app", recreate=True
        )
        large_db = Database(large_url, size=1)
        try:
            apply_migrations(large_db)
            seed_runs(large_db, SCALE_RUNS, first=1)
            _settle(large_db, url)
        finally:
            large_db.close()
        _settle(db, url)
        large_proc, large = _start(
            ROOT / "functions/run_complete/main.py", {**env, "DATABASE_URL": large_url}
        )
        procs.append(large_proc)
        _blast(large, bodies[:50], 0)  # the same warm-up as the small one had
        scale, _, _ = _rounds(subject, large, bodies, 50 + EVENTS * ROUNDS)
        _line("scale_10e5_vs_10e3", round(scale, 3))
        _line("runs_stored_small", stored)
        judge_eps, judge_floor_eps = _judge_vs_floor(db, env, floor)
        _line("judge_vs_floor", round(judge_eps / judge_floor_eps, 3))
        _line("judge_decisions_per_s", round(judge_eps, 1))
        for proc in procs:
            proc.terminate()  # type: ignore[attr-defined]
        procs = []
        at = 50 + 2 * EVENTS * ROUNDS
        cold, bare = [], []
        for i in range(COLD_ROUNDS):
            body = bodies[at + 2 * i]
            bare.append(_cold_start_s(ROOT / "bench/cold_floor.py", env, body, at + 2 * i))
            cold.append(
                _cold_start_s(ROOT / "functions/run_complete/main.py", env, body, at + 2 * i + 1)
            )
        _line("cold_start_vs_floor", round(statistics.median(cold) / statistics.median(bare), 3))
        _line("cold_start_s", round(statistics.median(cold), 3))
        _line("cold_start_floor_s", round(statistics.median(bare), 3))
        from bench.agents import measure as agent_messages  # issue 15: NATS → Postgres → SSE

        for name, value in agent_messages(db_url).items():
            _line(name, value)
    finally:
        for proc in procs:
            proc.terminate()  # type: ignore[attr-defined]
        db.close()
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
