"""A function refuses to serve (503) against a schema older than its migrations, logs it once,
and serves as soon as the schema catches up; a newer schema is fine."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from shared.db import Database
from shared.db.migrate import discover
from shared.db.schema import behind_message

*_, PREVIOUS, NEWEST = discover()


def _event(event_id: str) -> dict[str, str]:
    return {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "/broker/codex-judge",
        "ce-type": "io.codexjudge.run.completed.v1",
        "ce-knativeerrordest": "http://judge.codex-judge.svc.cluster.local",
        "ce-knativeerrorcode": "500",
    }


def test_an_old_schema_is_answered_503_until_it_is_migrated(
    function_url: Any, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    direct = Database(database_url, size=1)
    with direct.transaction() as tx:
        tx.run("DELETE FROM runtime.schema_migrations WHERE version = :v", v=NEWEST.version)
    url = function_url("dead_letter")
    expected = (
        f"database schema at {PREVIOUS.version:04d}, this build needs {NEWEST.version:04d}"
        f" ({NEWEST.version:04d}_{NEWEST.name}): run `codex-judge migrate`"
    )

    with caplog.at_level(logging.WARNING):
        first = httpx.post(url, headers=_event("e-1"), content=b"{}")
        again = httpx.post(url, headers=_event("e-1"), content=b"{}")
    assert (first.status_code, again.status_code) == (503, 503)
    assert first.json()["error"] == "SchemaBehindError"
    assert first.json()["message"] == expected
    assert [r.getMessage() for r in caplog.records if "schema" in r.getMessage()] == [expected]

    with direct.transaction() as tx:
        tx.run(
            "INSERT INTO runtime.schema_migrations (version, name, checksum) VALUES (:v, :n, :c)",
            v=NEWEST.version,
            n=NEWEST.name,
            c=NEWEST.checksum,
        )
        tx.run(
            "INSERT INTO runtime.schema_migrations (version, name, checksum)"
            " VALUES (9999, 'from_a_newer_build', 'x')"
        )
    direct.close()
    assert httpx.post(url, headers=_event("e-1"), content=b"{}").status_code == 202


def test_the_message_for_a_database_never_migrated_names_every_migration() -> None:
    message = behind_message(None, discover())
    assert message.startswith("database schema not migrated (no runtime.schema_migrations)")
    assert "0001_foundation" in message and f"{NEWEST.version:04d}_{NEWEST.name}" in message
