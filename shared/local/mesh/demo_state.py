"""What the demo sets and reads back: policies, waits until the broker is quiet and the pipeline
has concluded, and the side-effects report printed under the runs table."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.db import Database
from shared.local.mesh.replay import broker_base


def wait_until(
    database_url: str,
    sql: str,
    done: Callable[[dict[str, Any]], bool],
    timeout_s: float,
    **params: Any,
) -> bool:
    """Poll the one-row ``sql`` every 0.3 s until ``done(row)``; False after ``timeout_s``."""
    db = Database(database_url, size=1)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with db.transaction() as tx:
                row = tx.one(sql, **params)
            if row and done(row):
                return True
            time.sleep(0.3)
        return False
    finally:
        db.close()


def wait_concluded(database_url: str, repository: str, timeout_s: float = 60.0) -> bool:
    """Wait until every run of ``repository`` has left the active statuses."""
    return wait_until(
        database_url,
        "SELECT count(*) FILTER (WHERE active) AS waiting, count(*) AS runs"
        " FROM codex_judge.runs WHERE repository = :repository",
        lambda row: bool(row["runs"]) and not row["waiting"],
        timeout_s,
        repository=repository,
    )


def wait_agent_messages(database_url: str, expected: int, timeout_s: float = 30.0) -> bool:
    """Wait until the ingester has stored ``expected`` agent messages."""
    return wait_until(
        database_url,
        "SELECT count(*) AS n FROM workflow_comms.agent_messages",
        lambda row: int(row["n"]) >= expected,
        timeout_s,
    )


def print_side_effects(db: Database) -> None:
    """Print the agent messages, GitHub deliveries and dead letters the demo stored."""
    with db.transaction() as tx:
        agents = tx.all(
            "SELECT origin, channel, count(*) AS n FROM workflow_comms.agent_messages"
            " GROUP BY origin, channel ORDER BY origin, channel"
        )
        events = tx.one("SELECT count(*) AS n FROM github.events")
        letters = tx.all("SELECT subscriber, event_type, error_code FROM runtime.dead_letters")
    print(
        "Agent messages stored: "
        + ", ".join(f"{a['n']} {a['channel']} ({a['origin']})" for a in agents)
    )
    print(f"GitHub deliveries stored: {events['n'] if events else 0}")
    print(
        f"Dead letters: {len(letters)}"
        + "".join(f"\n  {d['subscriber']} {d['event_type']} {d['error_code']}" for d in letters)
    )


def wait_idle(broker: str, timeout_s: float = 90.0) -> bool:
    """Wait until the broker has delivered nothing for 1.5 s; False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(f"{broker_base(broker)}/_mesh/idle", params={"quiet_ms": 1500}, timeout=5)
                .json()
                .get("idle")
            ):
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def set_policy(database_url: str, repository: str, document: dict[str, Any]) -> None:
    """Store ``repository``'s policy pack (a ``codex_judge.policies`` row)."""
    db = Database(database_url, size=1)
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document)"
            " VALUES (:repository, CAST(:document AS jsonb))"
            " ON CONFLICT (repository) DO UPDATE SET document = EXCLUDED.document",
            repository=repository,
            document=json.dumps(document),
        )
    db.close()
