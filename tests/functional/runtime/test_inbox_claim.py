"""The inbox's one-statement claim (issue 12): a delivery of an event another delivery is
processing right now gets 409 at once (Knative retries it) and changes nothing; once the first
one ends, the retry is processed exactly once and a later duplicate is answered from the inbox.
Real HTTP to run-complete, real Postgres; the "other delivery" holds the claim's advisory lock."""

from __future__ import annotations

from typing import Any

from shared.db import Database
from tests.functional.run_complete.test_run_complete import (
    KAFKA_SOURCE,
    _codex_record,
    _post,
)

SQL_HOLD = "SELECT pg_advisory_xact_lock(hashtext(:consumer), hashtext(:source || ' ' || :id))"
SQL_RUNS = "SELECT count(*) AS n FROM codex_judge.runs WHERE workflow_uid = 'uid-claim'"
SQL_INBOX = "SELECT count(*) AS n FROM runtime.inbox WHERE consumer = 'run-complete'"


def _count(db: Database, sql: str) -> int:
    with db.transaction() as tx:
        row = tx.one(sql)
    assert row is not None
    return int(row["n"])


def test_a_delivery_in_progress_elsewhere_is_409_then_processed_once(
    function_url: Any, db: Database
) -> None:
    url = function_url("run_complete")
    body = _codex_record("uid-claim", 1)
    with db.transaction() as other:  # another delivery of offset 7 is being processed
        other.run(SQL_HOLD, consumer="run-complete", source=KAFKA_SOURCE, id="partition:0/offset:7")
        busy = _post(url, 7, body)
        assert busy.status_code == 409
        assert "another delivery" in busy.text
    assert _count(db, SQL_RUNS) == 0 and _count(db, SQL_INBOX) == 0
    first = _post(url, 7, body)  # Knative's retry, once the other delivery ended
    assert first.status_code == 200
    again = _post(url, 7, body)  # a duplicate: the same reply, from the inbox
    assert again.status_code == 200 and again.headers["ce-id"] == first.headers["ce-id"]
    assert _count(db, SQL_RUNS) == 1 and _count(db, SQL_INBOX) == 1
