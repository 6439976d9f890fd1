"""What must hold after a soak, checked on Postgres and on what the fakes recorded (issue 10).

Each check returns the violations it found, one line each naming the run, repository, pull
request or event concerned:

* ``every_completion_one_run`` — each published first completion, and each rerun the fake Argo
  cluster finished, is exactly one run (``runs.workflow_uid``);
* ``no_stuck_run`` — no run is non-terminal without a pending timer (``runtime.timers``) to end
  it;
* ``one_merge_per_pr``, ``one_revert_per_pr`` — in the fake GitHub's recorded writes;
* ``one_discord_message_per_run_kind`` — the notice kind is the message's title;
* ``one_rerun_submission_per_attempt`` — Argo submissions per ``(repository, issue, attempt)``;
* ``one_verification_per_run`` — Argo submissions labelled ``verifies-run``;
* ``dead_letters_only_malformed`` — every dead letter is one of the malformed records sent, and
  every malformed record is dead-lettered;
* ``webhooks_stored_once`` — each GitHub delivery id is one ``github.events`` row;
* ``final_states`` — each repository made the runs its kind makes and its last run ended as the
  kind must (:data:`tests.soak.scenarios.EXPECTED`).

:func:`final_summary` condenses each repository's outcome (runs, the last run's status and
reason, merges, reverts, Discord notices by title) so :func:`compare_final_states` can hold a
soak under faults against a fault-free soak of the same seed (``final_states_equal_fault_free``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from shared.db import Database
from shared.models.events import VERIFIES_RUN_LABEL
from tests.soak.scenarios import EXPECTED, MALFORMED_MARK, RUNS_PER_KIND, SoakRepo

RERUN_OF_LABEL = "codex-judge.io/rerun-of"
ATTEMPT_LABEL = "codex-judge.io/attempt"

SQL_RUNS = """
SELECT id, workflow_uid, repository, issue_number, attempt, status, reason, active
FROM codex_judge.runs ORDER BY id
"""
SQL_PENDING_TIMERS = "SELECT run_id, owner, kind FROM runtime.timers WHERE done_at IS NULL"
SQL_DEAD_LETTERS = """
SELECT subscriber, event_id, event_type, error_code, reason, convert_from(data, 'UTF8') AS data
FROM runtime.dead_letters ORDER BY id
"""
SQL_EVENTS = """
SELECT delivery_id, count(*) AS n FROM github.events
WHERE delivery_id = ANY(:ids) GROUP BY delivery_id
"""


@dataclass(frozen=True)
class Observed:
    """Everything the checks read, collected once after quiescence."""

    runs: list[dict[str, Any]]
    pending_timers: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    stored_deliveries: dict[str, int]
    fakes: dict[str, dict[str, Any]]
    #: Why a notice may be missing: each ``needs_human`` run's Discord effects (key, state,
    #: attempts, failures, rate_limited, error; none when no notice was ever attempted).
    #: Diagnostics only.
    notice_effects: list[dict[str, Any]] = field(default_factory=list)


SQL_NOTICE_EFFECTS = """
SELECT r.id AS run_id, e.idempotency_key, e.state, e.attempts, e.failures, e.rate_limited,
       e.error
  FROM codex_judge.runs r
  LEFT JOIN runtime.effects e ON e.run_id = r.id AND e.kind = 'discord'
 WHERE r.status = 'needs_human'
 ORDER BY r.id
"""


def observe(database_url: str, fakes: dict[str, dict[str, Any]], deliveries: list[str]) -> Observed:
    """Read the runs, timers, dead letters and stored deliveries; ``fakes`` is each fake's
    ``/_fake/state``."""
    db = Database(database_url, size=1)
    try:
        with db.transaction() as tx:
            runs = list(tx.all(SQL_RUNS))
            timers = list(tx.all(SQL_PENDING_TIMERS))
            dead = list(tx.all(SQL_DEAD_LETTERS))
            stored = {r["delivery_id"]: int(r["n"]) for r in tx.all(SQL_EVENTS, ids=deliveries)}
            effects = list(tx.all(SQL_NOTICE_EFFECTS))
    finally:
        db.close()
    return Observed(runs, timers, dead, stored, fakes, effects)


def _labels(submission: dict[str, Any]) -> dict[str, str]:
    raw = (submission.get("submitOptions") or {}).get("labels") or ""
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return dict(pair.split("=", 1) for pair in str(raw).split(",") if "=" in pair)


def _parameters(submission: dict[str, Any]) -> dict[str, str]:
    raw = (submission.get("submitOptions") or {}).get("parameters") or []
    return dict(str(p).split("=", 1) for p in raw if "=" in str(p))


def every_completion_one_run(obs: Observed, repos: list[SoakRepo]) -> list[str]:
    by_uid = Counter(r["workflow_uid"] for r in obs.runs)
    out = [
        f"completion {repo.workflow_uid} ({repo.repository}) made {by_uid[repo.workflow_uid]} runs"
        for repo in repos
        if by_uid[repo.workflow_uid] != 1
    ]
    for done in obs.fakes.get("argo", {}).get("completions", []):
        if RERUN_OF_LABEL in (done.get("labels") or {}) and by_uid[done.get("uid")] != 1:
            out.append(
                f"rerun workflow {done.get('workflow')} (uid {done.get('uid')}, rerun of run "
                f"{done['labels'][RERUN_OF_LABEL]}) made {by_uid[done.get('uid')]} runs"
            )
    return out


def no_stuck_run(obs: Observed, repos: list[SoakRepo]) -> list[str]:
    timed = {t["run_id"] for t in obs.pending_timers}
    return [
        f"run {r['id']} ({r['repository']}, attempt {r['attempt']}) is {r['status']} with no"
        " pending timer"
        for r in obs.runs
        if r["active"] and r["id"] not in timed
    ]


def _duplicates(counts: Counter[Any], what: str) -> list[str]:
    return [f"{what} {key}: {n} times" for key, n in sorted(counts.items(), key=str) if n > 1]


def one_merge_per_pr(obs: Observed, repos: list[SoakRepo]) -> list[str]:
    merges = obs.fakes.get("github", {}).get("merges", [])
    return _duplicates(Counter(f"{m['repository']}#{m['number']}" for m in merges), "merged")


def one_revert_per_pr(obs: Observed, repos: list[SoakRepo]) -> list[str]:
    reverts = obs.fakes.get("github", {}).get("reverts", [])
    keys = Counter(
        f"{str(r.get('url', '')).split('/pull/')[0].removeprefix('https://github.com/')}"
        f"#{r.get('reverted_number')}"
        for r in reverts
    )
    return _duplicates(keys, "reverted")


def notice_key(content: str) -> tuple[str, str]:
    """``(run id, title)`` of a Discord notice's text (its first line names both)."""
    first = content.split("\n", 1)[0]
    run = first.rsplit("run ", 1)[1] if "run " in first else "?"
    title = first.split("**", 2)[1] if first.count("**") >= 2 else first
    return run, title


def one_discord_message_per_run_kind(obs: Observed, repos: list[SoakRepo]) -> list[str]:
    keys: Counter[str] = Counter()
    for message in obs.fakes.get("discord", {}).get("messages", []):
        run, title = notice_key(str(message.get("content") or ""))
        keys[f"run {run} {title!r}"] += 1
    return _duplicates(keys, "Discord notice")


def one_rerun_submission_per_attempt(obs: Observed, repos: list[SoakRepo]) -> list[str]:
    keys: Counter[str] = Counter()
    for submission in obs.fakes.get("argo", {}).get("submissions", []):
        labels = _labels(submission)
        if RERUN_OF_LABEL not in labels:
            continue
        params = _parameters(submission)
        keys[
            f"{params.get('repository')} issue {params.get('issue_number')} attempt "
            f"{labels.get(ATTEMPT_LABEL) or params.get('attempt')}"
        ] += 1
    return _duplicates(keys, "rerun submitted for")


def one_verification_per_run(obs: Observed, repos: list[SoakRepo]) -> list[str]:
    keys: Counter[str] = Counter()
    for submission in obs.fakes.get("argo", {}).get("submissions", []):
        run = _labels(submission).get(VERIFIES_RUN_LABEL)
        if run is not None:
            keys[f"run {run}"] += 1
    return _duplicates(keys, "verification submitted for")


def dead_letters_only_malformed(obs: Observed, repos: list[SoakRepo], malformed: int) -> list[str]:
    out = []
    seen: set[str] = set()
    for dead in obs.dead_letters:
        data = str(dead.get("data") or "")
        if MALFORMED_MARK in data:
            seen.add(data)
            continue
        out.append(
            f"dead letter at {dead['subscriber']} for {dead['event_type']} {dead['event_id']}"
            f" ({dead['error_code']}: {str(dead['reason'])[:160]})"
        )
    for n in range(malformed):
        if not any(f'"{MALFORMED_MARK}": {n}' in s for s in seen):
            out.append(f"malformed record {n} was not dead-lettered")
    return out


def webhooks_stored_once(obs: Observed, deliveries: list[str]) -> list[str]:
    return [
        f"delivery {d} stored {obs.stored_deliveries.get(d, 0)} times"
        for d in sorted(set(deliveries))
        if obs.stored_deliveries.get(d, 0) != 1
    ]


def final_states(obs: Observed, repos: list[SoakRepo]) -> list[str]:
    by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_uid = {r["workflow_uid"]: r for r in obs.runs}
    for run in obs.runs:
        if run["repository"]:
            by_repo[run["repository"]].append(run)
    out = []
    for repo in repos:
        if repo.kind == "missing_metadata":
            found = by_uid.get(repo.workflow_uid)
            runs = [found] if found else []
        else:
            runs = by_repo.get(repo.repository, [])
        if len(runs) != RUNS_PER_KIND[repo.kind]:
            out.append(
                f"{repo.repository}: {len(runs)} runs, expected {RUNS_PER_KIND[repo.kind]}"
                f" ({', '.join(str(r['status']) + '/' + str(r['reason']) for r in runs)})"
            )
            continue
        last = max(runs, key=lambda r: (r["attempt"] or 0, r["id"]))
        status, reason = EXPECTED[repo.kind]
        if last["status"] != status or (reason is not None and last["reason"] != reason):
            out.append(
                f"{repo.repository}: run {last['id']} ended {last['status']}/{last['reason']},"
                f" expected {status}/{reason or '*'}"
            )
    return out


def runs_by_repo(obs: Observed, repos: list[SoakRepo]) -> dict[str, list[dict[str, Any]]]:
    """Each repository's runs; a missing-metadata run (no repository) by its workflow uid."""
    by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_uid = {r["workflow_uid"]: r for r in obs.runs}
    for run in obs.runs:
        if run["repository"]:
            by_repo[run["repository"]].append(run)
    for repo in repos:
        if repo.kind == "missing_metadata":
            found = by_uid.get(repo.workflow_uid)
            by_repo[repo.repository] = [found] if found else []
    return by_repo


def final_summary(
    obs: Observed,
    repos: list[SoakRepo],
    *,
    named_double_posts: dict[tuple[str, str], int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each repository's outcome, comparable across two soaks of the same seed (run ids are
    not): ``{"runs", "last", "merges", "reverts", "notices"}`` — the number of runs, the last
    run's ``status/reason``, the merges and revert PRs the fake GitHub recorded for it, and its
    Discord notices as sorted ``title x count`` strings. A ``(run id, title)`` in
    ``named_double_posts`` (the named webhook-mode limitation, with its number of repeated
    posts) counts as posted once, so the limitation is named once, not again as a difference."""
    by_repo = runs_by_repo(obs, repos)
    repo_of_run = {str(run["id"]): name for name, runs in by_repo.items() for run in runs}
    github = obs.fakes.get("github", {})
    merges = Counter(str(m.get("repository")) for m in github.get("merges", []))
    reverts = Counter(
        str(r.get("url", "")).split("/pull/")[0].removeprefix("https://github.com/")
        for r in github.get("reverts", [])
    )
    notices: dict[str, Counter[str]] = defaultdict(Counter)
    for message in obs.fakes.get("discord", {}).get("messages", []):
        run, title = notice_key(str(message.get("content") or ""))
        notices[repo_of_run.get(run, f"run {run}")][title] += 1
    for (run, title), repeats in (named_double_posts or {}).items():
        counted = notices[repo_of_run.get(run, f"run {run}")]
        counted[title] -= min(repeats, counted[title] - 1)
    out = {}
    for repo in repos:
        runs = by_repo.get(repo.repository, [])
        last = max(runs, key=lambda r: (r["attempt"] or 0, r["id"])) if runs else None
        out[repo.repository] = {
            "runs": len(runs),
            "last": f"{last['status']}/{last['reason']}" if last else None,
            "merges": merges[repo.repository],
            "reverts": reverts[repo.repository],
            "notices": sorted(f"{t} x{n}" for t, n in notices[repo.repository].items()),
        }
    return out


def compare_final_states(
    faulted: dict[str, dict[str, Any]], clean: dict[str, dict[str, Any]]
) -> list[str]:
    """One line per repository whose :func:`final_summary` differs between the soak under
    faults and the fault-free soak of the same seed, naming each differing field."""
    out = []
    for repo in sorted(set(faulted) | set(clean)):
        mine, theirs = faulted.get(repo, {}), clean.get(repo, {})
        diffs = [
            f"{key} {mine.get(key)!r} vs fault-free {theirs.get(key)!r}"
            for key in ("runs", "last", "merges", "reverts", "notices")
            if mine.get(key) != theirs.get(key)
        ]
        if diffs:
            out.append(f"{repo}: {'; '.join(diffs)}")
    return out


def check_all(
    obs: Observed, repos: list[SoakRepo], *, malformed: int, deliveries: list[str]
) -> dict[str, list[str]]:
    """Every check's violations, by check name (an empty list is a pass)."""
    checks = {
        "every_completion_one_run": every_completion_one_run(obs, repos),
        "no_stuck_run": no_stuck_run(obs, repos),
        "one_merge_per_pr": one_merge_per_pr(obs, repos),
        "one_revert_per_pr": one_revert_per_pr(obs, repos),
        "one_discord_message_per_run_kind": one_discord_message_per_run_kind(obs, repos),
        "one_rerun_submission_per_attempt": one_rerun_submission_per_attempt(obs, repos),
        "one_verification_per_run": one_verification_per_run(obs, repos),
        "dead_letters_only_malformed": dead_letters_only_malformed(obs, repos, malformed),
        "webhooks_stored_once": webhooks_stored_once(obs, deliveries),
        "final_states": final_states(obs, repos),
    }
    return checks
