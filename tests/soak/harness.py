"""One soak: start the mesh, seed N repositories, publish their completions under faults, wait
for quiescence, check the invariants (:mod:`tests.soak.invariants`) and report a table.

Publishing (seeded): every first completion once, a share again at the same Kafka offset (a
redelivered record) and a share again at a new offset (Argo's repeated UPDATE events), the
recorded signed GitHub deliveries twice each, and a few malformed records; all of it shuffled
and sent in bursts of concurrent requests, so bursts arrive reordered. A send that fails (a
connection refused while a function restarts, a 5xx) is retried as a producer retries. The
local broker delivers a share of the internal events twice (:attr:`SoakOptions.internal_duplicates`,
Knative's at-least-once delivery).

:func:`run_compared` runs the same seed twice — under faults, then fault-free (no kills, upstream
faults, outage, effect crashes or internal duplicates; the same published records) — and holds
each repository's final state against the other (``final_states_equal_fault_free``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shared.db import Database
from shared.local.mesh import demo
from shared.local.mesh.replay import broker_base, send
from shared.local.mesh.supervisor import Mesh
from shared.settings import Settings
from tests.soak import scenarios
from tests.soak.faults import NO_FAULTS, FaultInjector, FaultPlan
from tests.soak.invariants import (
    check_all,
    compare_final_states,
    final_summary,
    notice_key,
    observe,
    runs_by_repo,
)

SOAK_DATABASE = "codex_judge_soak"
#: The broker's backoffs run at this fraction of the manifests': all of it. The scheduler's tick
#: Trigger retries only 3 times (``triggers/scheduler.yaml``; 2+4+8 s as the local mesh
#: counts), and a Postgres stop/start (``postgres_outage_s`` in the table, up to 7 s on a loaded
#: 2-core machine) must fit in that window as it must in production; a faster scale shrinks
#: the window and dead-letters ticks.
TIME_SCALE = 1.0
#: Work still owed: an active run, a scheduled rerun (its run is ``needs_iteration``, not
#: active, and a rerun that failed transiently retries 30 s later), or an effect's recovery timer
#: (``effect:<key>``, matched as ``effect_%`` to keep the colon from the driver's placeholders;
#: a crash mid-call is taken over after the 60 s lease).
SQL_ACTIVE = """
SELECT (SELECT count(*) FROM codex_judge.runs WHERE active)
     + (SELECT count(*) FROM runtime.timers
        WHERE done_at IS NULL AND (owner = 'rerun' OR kind LIKE 'effect_%')) AS n
"""
SQL_POLICY = (
    "INSERT INTO codex_judge.policies (repository, document)"
    " VALUES (:repository, CAST(:document AS jsonb))"
    " ON CONFLICT (repository) DO UPDATE SET document = EXCLUDED.document"
)


@dataclass(frozen=True)
class SoakOptions:
    """One soak's parameters.

    Attributes:
        repos: how many repositories to seed.
        seed: the RNG seed (the mix, the publication order, the faults).
        faults: the fault plan (:data:`tests.soak.faults.NO_FAULTS` for a clean run).
        duplicate_same_offset: share of completions sent again at the same offset.
        duplicate_new_offset: share of completions sent again at a new offset.
        malformed: how many malformed records to send (each must be a dead letter).
        internal_duplicates: share of the broker's deliveries to Trigger subscribers made
            twice (:meth:`shared.local.mesh.broker.LocalBroker.duplicate_deliveries`).
        fault_tail_s: how long faults may continue after the last send while runs are still
            active, seconds at most (None: 10 s plus 0.2 s per repository).
        quiet_timeout_s: the longest wait for quiescence, seconds (None: 120 + 2 s per repo).
    """

    repos: int = 300
    seed: int = 1
    faults: FaultPlan = field(default_factory=FaultPlan)
    duplicate_same_offset: float = 0.5
    duplicate_new_offset: float = 0.5
    malformed: int = 4
    internal_duplicates: float = 0.1
    fault_tail_s: float | None = None
    quiet_timeout_s: float | None = None


@dataclass
class SoakReport:
    """The outcome: figures for the table and the violations by check."""

    stats: dict[str, Any]
    violations: dict[str, list[str]]
    #: Each repository's outcome (:func:`tests.soak.invariants.final_summary`).
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Named limitations met (not violations), one line each.
    limitations: list[str] = field(default_factory=list)
    #: Run ids by repository, and the needs_human runs' Discord effects (diagnostics).
    run_ids: dict[str, list[int]] = field(default_factory=dict)
    notice_effects: list[dict[str, Any]] = field(default_factory=list)
    #: Where a notice that differs from the fault-free run stopped (diagnostics), one line each.
    evidence: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No check found a violation and the mesh went quiet."""
        return bool(self.stats.get("quiescent")) and not any(self.violations.values())

    def table(self) -> str:
        """``name: value`` lines: the figures, each check's violation count, then each
        violation (at most 20 per check)."""
        lines = [f"{name}: {value}" for name, value in self.stats.items()]
        lines += [f"{name}: {len(found)}" for name, found in self.violations.items()]
        lines.append(f"violations: {sum(len(v) for v in self.violations.values())}")
        lines += [f"  limitation: {line}" for line in self.limitations]
        lines += [f"  {line}" for line in self.evidence]
        for name, found in self.violations.items():
            lines += [f"  {name}: {line}" for line in found[:20]]
            if len(found) > 20:
                lines.append(f"  {name}: … {len(found) - 20} more")
        lines.append(f"result: {'PASS' if self.ok else 'FAIL'}")
        return "\n".join(lines)


def _records(
    repos: list[scenarios.SoakRepo], github: dict[str, Any], opts: SoakOptions, rng: random.Random
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    firsts = [scenarios.completion(repo, github, offset) for offset, repo in enumerate(repos)]
    offset = len(firsts)
    extra = []
    same = new = 0
    for record in firsts:
        if rng.random() < opts.duplicate_same_offset:
            extra.append(copy.deepcopy(record))
            same += 1
        if rng.random() < opts.duplicate_new_offset:
            again = copy.deepcopy(record)
            again["kafka"]["offset"] = offset
            offset += 1
            extra.append(again)
            new += 1
    malformed = scenarios.malformed_records(opts.malformed, first_offset=offset)
    deliveries = demo.webhook_deliveries()
    items = firsts + extra + malformed + deliveries + copy.deepcopy(deliveries)
    rng.shuffle(items)
    counts = {
        "completions_first": len(firsts),
        "completions_duplicate_same_offset": same,
        "completions_duplicate_new_offset": new,
        "malformed_records": len(malformed),
        "webhook_deliveries_sent": 2 * len(deliveries),
    }
    return items, counts


def _reserve_offsets(mesh: Mesh, items: list[dict[str, Any]]) -> None:
    """Reserve the topic offsets the Kafka records pin, shifting them to the reserved range:
    a completion the fake Argo cluster appends while they are being published would otherwise
    take an offset a record not yet sent pins, and the later of the two, sharing its
    CloudEvent id, be answered as a duplicate (the fault-free run of seed 2 lost its four
    malformed records, the highest offsets, that way)."""
    pinned = [item["kafka"] for item in items if "kafka" in item]
    if not pinned:
        return
    base = mesh.broker.reserve(scenarios.TOPIC, max(int(k["offset"]) for k in pinned) + 1)
    for kafka in pinned:
        kafka["offset"] = int(kafka["offset"]) + base


def _send_retrying(item: dict[str, Any], urls: dict[str, Any], client: httpx.Client) -> int:
    """Send one item; retry refused connections and 5xx for up to 60 s, as a producer does."""
    deadline = time.monotonic() + 60
    status = 0
    while time.monotonic() < deadline:
        try:
            status = send(item, urls, client)[1]
        except httpx.HTTPError:
            status = 0
        if 0 < status < 500:
            return status
        time.sleep(0.5)
    return status


def _publish(items: list[dict[str, Any]], urls: dict[str, Any], rng: random.Random) -> int:
    """Send ``items`` in concurrent bursts of 5-25; returns how many ended 5xx or unsent."""
    failed = 0
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(max_workers=8) as pool:
        start = 0
        while start < len(items):
            size = rng.randint(5, 25)
            burst = items[start : start + size]
            start += size
            statuses = list(pool.map(lambda item: _send_retrying(item, urls, client), burst))
            failed += sum(1 for s in statuses if not 0 < s < 500)
            time.sleep(rng.uniform(0.05, 0.4))
    return failed


def _inject_until_settled(mesh: Mesh, cap_s: float) -> float:
    """Let the faults go on while work is owed (:data:`SQL_ACTIVE`), at most ``cap_s``
    seconds; the seconds."""
    db = Database(mesh.database_url, size=1)
    began = time.monotonic()
    try:
        while time.monotonic() - began < cap_s:
            time.sleep(1.0)
            # Postgres may be stopped right now: then the faults go on.
            with contextlib.suppress(Exception), db.transaction() as tx:
                if int((tx.one(SQL_ACTIVE) or {"n": 1})["n"]) == 0:
                    break
        return round(time.monotonic() - began, 1)
    finally:
        db.close()


def _wait_quiet(mesh: Mesh, timeout_s: float) -> bool:
    """Wait until the broker is idle and no work is owed (:data:`SQL_ACTIVE`); False on
    timeout."""
    db = Database(mesh.database_url, size=1)
    deadline = time.monotonic() + timeout_s
    idle_url = f"{broker_base(mesh.broker_url)}/_mesh/idle"
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # Postgres or the broker may be coming back
                idle = httpx.get(idle_url, params={"quiet_ms": 2000}, timeout=5).json()["idle"]
                with db.transaction() as tx:
                    active = int((tx.one(SQL_ACTIVE) or {"n": 1})["n"])
                if idle and active == 0:
                    return True
            time.sleep(1.0)
        return False
    finally:
        db.close()


def _seed(mesh: Mesh, repos: list[scenarios.SoakRepo], github: dict[str, Any]) -> None:
    db = Database(mesh.database_url, size=1)
    try:
        with db.transaction() as tx:
            for repo in repos:
                document = scenarios.policy(repo)
                if document is not None:
                    tx.run(SQL_POLICY, repository=repo.repository, document=json.dumps(document))
    finally:
        db.close()
    fakes = mesh.fakes
    rerun_template = Settings().rerun_workflow_template
    with httpx.Client(timeout=30) as client:
        client.put(f"{fakes['github']}/_fake/state", json=github).raise_for_status()
        argo = scenarios.argo_state(mesh.broker_url, rerun_template)
        client.put(f"{fakes['argo']}/_fake/state", json=argo).raise_for_status()
        argocd = scenarios.argocd_state(repos, github)
        client.put(f"{fakes['argocd']}/_fake/state", json=argocd).raise_for_status()


@contextlib.contextmanager
def soak_mesh(data_dir: Path, repos: list[scenarios.SoakRepo]) -> Iterator[Mesh]:
    """A mesh on ``data_dir`` (its own embedded Postgres unless ``DATABASE_URL`` is set) that
    may write to the soak repositories; stopped on exit."""
    mesh = Mesh(
        Settings(data_dir=data_dir),
        extra_env={
            "CODEX_JUDGE_GITHUB_WEBHOOK_SECRETS": demo.RECORDED_WEBHOOK_SECRET,
            "CODEX_JUDGE_LOG_LEVEL": "WARNING",
        },
        write_allowlist=[r.repository for r in repos],
    )
    mesh.start(database=SOAK_DATABASE, ping_interval_s=1.0, time_scale=TIME_SCALE)
    try:
        yield mesh
    finally:
        mesh.stop()


def run_soak(opts: SoakOptions, data_dir: Path) -> SoakReport:
    """Run one soak (module docstring) with its mesh on ``data_dir``; returns the report."""
    started = time.monotonic()
    rng = random.Random(opts.seed)
    repos = scenarios.plan_repos(opts.repos, opts.seed)
    github = scenarios.github_state(repos)
    items, stats = _records(repos, github, opts, rng)
    deliveries = [d["headers"]["x-github-delivery"] for d in demo.webhook_deliveries()]
    stats = {"seed": opts.seed, "repositories": opts.repos, **stats}
    with soak_mesh(data_dir, repos) as mesh:
        stats["mesh_start_s"] = round(time.monotonic() - started, 1)
        _seed(mesh, repos, github)
        _reserve_offsets(mesh, items)
        injector = FaultInjector(mesh, opts.faults, seed=opts.seed, server=mesh.embedded)
        if opts.internal_duplicates > 0:
            mesh.broker.duplicate_deliveries(opts.internal_duplicates, opts.seed)
        if opts.faults != NO_FAULTS:
            injector.start()
        try:  # an interrupted soak stops its injector before the mesh
            publish_started = time.monotonic()
            stats["sends_failed"] = _publish(items, mesh.urls(), rng)
            stats["publish_s"] = round(time.monotonic() - publish_started, 1)
            if opts.faults != NO_FAULTS:
                tail = 10 + 0.2 * opts.repos if opts.fault_tail_s is None else opts.fault_tail_s
                stats["fault_tail_s"] = _inject_until_settled(mesh, tail)
        finally:
            injector.stop()
        timeout = opts.quiet_timeout_s or 120 + 2.0 * opts.repos
        stats["quiescent"] = _wait_quiet(mesh, timeout)
        with httpx.Client(timeout=30) as client:
            fakes = {n: client.get(f"{u}/_fake/state").json() for n, u in mesh.fakes.items()}
            injected = {
                n: len(client.get(f"{u}/_fake/faults").json()["injected"])
                for n, u in mesh.fakes.items()
            }
        broker_stats = mesh.broker.stats()
        obs = observe(mesh.database_url, fakes, deliveries)
        argo_done = fakes.get("argo", {}).get("completions", [])
        stats.update(
            {
                "runs": len(obs.runs),
                "completions_by_fake_argo_cluster": len(argo_done),
                "completions_total": sum(
                    stats[k]
                    for k in (
                        "completions_first",
                        "completions_duplicate_same_offset",
                        "completions_duplicate_new_offset",
                    )
                )
                + len(argo_done),
                "merges": len(fakes.get("github", {}).get("merges", [])),
                "reverts": len(fakes.get("github", {}).get("reverts", [])),
                "argo_submissions": len(fakes.get("argo", {}).get("submissions", [])),
                "discord_messages": len(fakes.get("discord", {}).get("messages", [])),
                "dead_letters": len(obs.dead_letters),
                "kills": injector.counts["kills"],
                "restarts": sum(p.restarts for p in mesh.processes.values()),
                "upstream_faults_armed": injector.counts["upstream_faults_armed"],
                "upstream_faults_answered": sum(injected.values()),
                "postgres_restarts": injector.counts["postgres_restarts"],
                "postgres_outage_s": injector.outage_s,
                "postgres_stops_at_effect": sum(
                    n for k, n in injector.counts.items() if k.startswith("postgres_stop_at_")
                ),
                **{
                    f"effect_crashes_{fake}": injector.counts[f"effect_crashes_{fake}"]
                    for fake in ("github", "argo", "discord", "argocd")
                },
                "effect_holds_refused": injector.counts["effect_holds_refused"],
                "effect_holds_expired": injector.counts["effect_holds_expired"],
                "internal_deliveries_duplicated": broker_stats.get("duplicated", 0),
                # a dead letter missing from the store: sent by the broker, or dropped there?
                "broker_dead_lettered": broker_stats.get("dead_lettered", 0),
                "broker_dropped": broker_stats.get("dropped", 0),
                "injector_errors": len(injector.errors),
            }
        )
        violations = check_all(obs, repos, malformed=opts.malformed, deliveries=deliveries)
        limitations, named = _webhook_double_posts(
            violations,
            fakes.get("discord", {}).get("messages", []),
            injector.discord_disruptions,
        )
        stats["discord_webhook_double_posts"] = len(limitations)
        if injector.errors:
            violations["fault_injector"] = injector.errors
    stats["duration_s"] = round(time.monotonic() - started, 1)
    summary = final_summary(obs, repos, named_double_posts=named)
    run_ids = {
        name: [int(r["id"]) for r in runs] for name, runs in runs_by_repo(obs, repos).items()
    }
    return SoakReport(stats, violations, summary, limitations, run_ids, obs.notice_effects)


#: A notice posted at most this many seconds before the ``discord`` function was killed (or
#: Postgres stopped) may not have been recorded yet.
RECORD_WINDOW_S = 5.0


def _webhook_double_posts(
    violations: dict[str, list[str]],
    messages: list[dict[str, Any]],
    disruptions: list[tuple[float, float]],
) -> tuple[list[str], dict[tuple[str, str], int]]:
    """Move out of the Discord check the duplicates that are Discord *webhook* mode's one
    window: the notice was posted, Discord answered, and the ``discord`` function was killed
    (or Postgres stopped) within :data:`RECORD_WINDOW_S` after, before it could record the
    post; the recovery timer posts it again, as a webhook execution takes no idempotency key
    (``nonce``/``enforce_nonce`` exist only for bot-token posts; Discord "Execute Webhook").
    A notice posted *n* times is named only when each of its first *n* - 1 posts was followed
    by such a disruption (the repost can meet the next crash too).

    Args:
        violations: the checks' violations; the Discord check's list is rewritten.
        messages: the fake Discord's messages (``content``, ISO ``timestamp``).
        disruptions: :attr:`tests.soak.faults.FaultInjector.discord_disruptions`.

    Returns:
        The named limitations, one line each, and their ``(run id, title)`` keys with the
        number of repeated posts each. Any other duplicate stays a violation.
    """
    posts: dict[tuple[str, str], list[float]] = {}
    for message in messages:
        key = notice_key(str(message.get("content") or ""))
        with contextlib.suppress(TypeError, ValueError):
            posted = datetime.fromisoformat(str(message.get("timestamp"))).timestamp()
            posts.setdefault(key, []).append(posted)

    def lost_after(posted: float) -> bool:
        return any(a <= posted + RECORD_WINDOW_S and b >= posted for a, b in disruptions)

    named = {
        key: len(times) - 1
        for key, times in posts.items()
        if len(times) > 1 and all(lost_after(t) for t in sorted(times)[:-1])
    }
    # the check's lines read "Discord notice run <id> '<title>': <n> times"
    keys = {f"Discord notice run {run} {title!r}": (run, title) for run, title in posts}
    found = violations.get("one_discord_message_per_run_kind", [])
    key_of = {
        line: keys[line.rsplit(":", 1)[0]] for line in found if line.rsplit(":", 1)[0] in keys
    }
    limited = {line: key for line, key in key_of.items() if key in named}
    violations["one_discord_message_per_run_kind"] = [
        _with_timing(line, posts[key_of[line]] if line in key_of else [], disruptions)
        for line in found
        if line not in limited
    ]
    lines = [
        f"{line} (the discord function lost its work right after Discord answered; webhook"
        " mode has no idempotency key)"
        for line in limited
    ]
    return lines, {key: named[key] for key in limited.values()}


def _with_timing(line: str, posted: list[float], disruptions: list[tuple[float, float]]) -> str:
    """``line`` (an unnamed repeated notice) with when each post happened and, after the
    first, how long until the discord function next lost its work: the evidence that tells a
    record slower than :data:`RECORD_WINDOW_S` from a claim taken over while its worker lived."""
    if not posted:
        return line
    first = min(posted)
    after = [round(a - first, 1) for a, b in disruptions if b >= first]
    at = ", ".join(datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3] for t in posted)
    loss = f"next lost its work {min(after)} s after" if after else "never lost its work after"
    return f"{line} (posted at {at} UTC; the discord function {loss} the first post)"


def _missing_notice_evidence(report: SoakReport, diffs: list[str]) -> list[str]:
    """For each repository whose notices differ from the fault-free run: its needs_human runs'
    Discord effects (none attempted, or their state, attempts, failed posts and error), so a
    lost or repeated notice says where it stopped. Diagnostics, not violations."""
    out = []
    for line in diffs:
        repo = line.split(":", 1)[0]
        if "notices" not in line:
            continue
        runs = set(report.run_ids.get(repo, []))
        for effect in report.notice_effects:
            if effect["run_id"] in runs:
                what = (
                    f"{effect['idempotency_key']} {effect['state']} attempts {effect['attempts']}"
                    f" failed posts {effect['failures']} rate-limited posts"
                    f" {effect['rate_limited']} error {effect['error']!r}"
                    if effect["idempotency_key"]
                    else "no Discord notice attempted"
                )
                out.append(f"evidence: {repo} run {effect['run_id']} needs_human: {what}")
    return out


def run_compared(opts: SoakOptions, data_dir: Path) -> SoakReport:
    """Run ``opts`` under faults, then the same seed fault-free on the same data directory
    (module docstring), and add ``final_states_equal_fault_free`` (the number of repositories
    whose final state differs; each difference is a violation) to the first report."""
    report = run_soak(opts, data_dir)
    clean_opts = dataclasses.replace(opts, faults=NO_FAULTS, internal_duplicates=0.0)
    clean = run_soak(clean_opts, data_dir)
    diffs = compare_final_states(report.summary, clean.summary)
    report.stats["final_states_equal_fault_free"] = len(diffs)
    report.stats["fault_free_duration_s"] = clean.stats["duration_s"]
    report.violations["final_states_equal_fault_free"] = diffs
    report.evidence += _missing_notice_evidence(report, diffs)
    failed = [f"{name}: {line}" for name, found in clean.violations.items() for line in found]
    if not clean.ok:
        counts = ("quiescent", "dead_letters", "broker_dead_lettered", "broker_dropped")
        failed.append(
            "the fault-free run did not pass ("
            + ", ".join(f"{name}: {clean.stats.get(name)}" for name in counts)
            + ")"
        )
    report.violations["fault_free_run"] = failed
    return report
