"""Rows for the api's tests and the UI's browser tests: runs with evaluations, inbox entries,
effects, timers and dead letters, written with the columns the pipeline writes. Plus a Broker
ingress stand-in that records every POST (headers and body) and can be told to fail."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flask
from pydantic import SecretStr

from shared.db import Database
from shared.local.fakes.base import serve_fake
from shared.settings import Settings

SQL_RUN = """
INSERT INTO codex_judge.runs (workflow_uid, workflow_name, repository, issue_number, attempt,
    head_sha, pr_number, pr_url, issue_url, status, decision, reason, created_at)
VALUES (:uid, :name, :repository, :issue, :attempt, :sha, :pr, :pr_url, :issue_url, :status,
    :decision, :reason, now() - make_interval(mins => :age_min))
RETURNING id
"""
SQL_EVALUATION = """
INSERT INTO codex_judge.evaluations (run_id, stage, decision, reasons, next_prompt, judge_kind,
    confidence, policy_hash, repository, issue_number, attempt, head_sha, seal, inputs)
VALUES (:run_id, 'final', :decision, CAST(:reasons AS jsonb), :prompt, 'offline', 0.7,
    :policy_hash, :repository, :issue, :attempt, :sha, CAST(:seal AS jsonb),
    CAST(:inputs AS jsonb))
"""
SQL_INBOX = """
INSERT INTO runtime.inbox (consumer, source, event_id, event_type, run_id, reply, received_at)
VALUES (:consumer, '/test', :event_id, :type, :run_id, CAST(:reply AS jsonb),
        now() - make_interval(secs => :ago_s))
"""
SQL_DEAD_LETTER = """
INSERT INTO runtime.dead_letters (subscriber, event_source, event_id, event_type, attributes,
    data, reason, error_code, error_body)
VALUES (:subscriber, '/test', :event_id, 'io.codexjudge.run.completed.v1',
    CAST(:attributes AS jsonb), :data, 'data.run_id: missing', 422, CAST(:body AS jsonb))
RETURNING id
"""


def seed_run(
    db: Database,
    *,
    repository: str = "acme/widgets",
    issue: int = 1,
    attempt: int = 1,
    status: str = "needs_human",
    decision: str | None = "needs_human",
    reason: str | None = "low_confidence",
    evaluation: bool = True,
    age_min: int = 0,
    policy_hash: str = "f" * 64,
    inputs: dict[str, Any] | None = None,
) -> int:
    """A run (and its sealed evaluation when ``decision`` is set and ``evaluation``, recorded
    under ``policy_hash`` with ``inputs`` — e.g. the gates' ``gate_findings``)."""
    sha = f"{issue:04d}{attempt:04d}".ljust(40, "a")
    with db.transaction() as tx:
        row = tx.one(
            SQL_RUN,
            uid=f"uid-{repository}-{issue}-{attempt}",
            name=f"codex-{issue}-{attempt}",
            repository=repository,
            issue=issue,
            attempt=attempt,
            sha=sha,
            pr=100 + issue,
            pr_url=f"https://github.com/{repository}/pull/{100 + issue}",
            issue_url=f"https://github.com/{repository}/issues/{issue}",
            status=status,
            decision=decision,
            reason=reason,
            age_min=age_min,
        )
        assert row is not None
        run_id = int(row["id"])
        if decision and evaluation:
            tx.run(
                SQL_EVALUATION,
                run_id=run_id,
                decision=decision,
                reasons=json.dumps([{"code": reason or "ok", "message": "seeded <b>reason</b>"}]),
                prompt="fix the failing test",
                policy_hash=policy_hash,
                repository=repository,
                issue=issue,
                attempt=attempt,
                sha=sha,
                seal=json.dumps({"head_sha": sha}),
                inputs=json.dumps(inputs or {}),
            )
        for ago, (consumer, type_, reply) in enumerate(
            [
                ("judge", "io.codexjudge.review.concluded.v1", "io.codexjudge.judge.decided.v1"),
                ("ci-status", "io.codexjudge.run.completed.v1", "io.codexjudge.ci.concluded.v1"),
            ]
        ):
            tx.run(
                SQL_INBOX,
                consumer=consumer,
                event_id=f"{run_id}-{consumer}",
                type=type_,
                run_id=run_id,
                reply=json.dumps({"type": reply}),
                ago_s=ago * 10,
            )
    return run_id


def seed_dead_letter(db: Database, *, subscriber: str = "judge", event_id: str = "ev-1") -> int:
    """A dead letter of ``subscriber`` with Knative's error extensions."""
    attributes = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/test",
        "type": "io.codexjudge.run.completed.v1",
        "datacontenttype": "application/json",
        "knativeerrordest": f"http://{subscriber}.codex-judge.svc.cluster.local",
        "knativeerrorcode": "422",
    }
    with db.transaction() as tx:
        row = tx.one(
            SQL_DEAD_LETTER,
            subscriber=subscriber,
            event_id=event_id,
            attributes=json.dumps(attributes),
            data=b'{"run": 1}',
            body=json.dumps({"field": "data.run_id"}),
        )
    assert row is not None
    return int(row["id"])


@dataclass
class Sink:
    """The Broker stand-in: its URL, what it received, and whether it answers 503."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    failing: bool = False

    def of_type(self, type_: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in self.received if h.get("ce-type") == type_]


@contextmanager
def recording_broker() -> Iterator[Sink]:
    """A Broker ingress stand-in over real HTTP."""
    app = flask.Flask("broker")
    sink = Sink(url="")

    @app.post("/")
    def ingest() -> Any:
        if sink.failing:
            return flask.Response(b"", status=503)
        headers = {k.lower(): v for k, v in flask.request.headers.items()}
        sink.received.append((headers, flask.request.get_data()))
        return flask.Response(b"", status=202)

    served = serve_fake(app)
    sink.url = served.url + "/"
    try:
        yield sink
    finally:
        served.stop()


def seed_checks(db: Database, run_ids: list[int]) -> list[str]:
    """The PR state of the runs' PR (head = the last run's SHA) and a ``build`` check on each
    run's head SHA, older runs' checks older; returns the SHAs in run order."""
    with db.transaction() as tx:
        rows = tx.all(
            "SELECT repository, pr_number, head_sha FROM codex_judge.runs WHERE id = ANY(:ids)"
            " ORDER BY id",
            ids=run_ids,
        )
        last = rows[-1]
        tx.run(
            "INSERT INTO github.pr_state (repository, pr_number, head_sha, state, title,"
            " source_updated_at) VALUES (:repository, :number, :sha, 'open', 'Fix it', now())",
            repository=last["repository"],
            number=last["pr_number"],
            sha=last["head_sha"],
        )
        for age, row in enumerate(reversed(rows)):
            tx.run(
                "INSERT INTO github.check_state (repository, head_sha, kind, name, status,"
                " conclusion, source_updated_at) VALUES (:repository, :sha, 'check_run', 'build',"
                " 'completed', :conclusion, now() - make_interval(mins => :age))",
                repository=row["repository"],
                sha=row["head_sha"],
                conclusion="success" if age == 0 else "failure",
                age=age * 30,
            )
    return [r["head_sha"] for r in rows]


#: The tokens the api tests log in with (``viewer`` reads, ``alice`` acts).
READ = "read-token-0123456789"
OPERATOR = "operator-token-abcdef"


def api_settings(
    database_url: str,
    data_dir: Path,
    *,
    read_tokens: tuple[str, ...] = (f"viewer:{READ}",),
    **extra: Any,
) -> Settings:
    """Settings of an api under test: its database, no upstream, the read tokens given and
    ``alice``'s operator token; ``extra`` for the rest (``k_sink``, stream bounds)."""
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        github_api_url="http://127.0.0.1:9",
        llm_base_url=None,
        api_read_tokens=[SecretStr(t) for t in read_tokens],
        api_operator_tokens=[SecretStr(f"alice:{OPERATOR}")],
        **extra,
    )
