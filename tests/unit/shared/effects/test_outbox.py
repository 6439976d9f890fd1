"""The effects outbox against the real Postgres fixture: at most one call per key."""

from __future__ import annotations

from typing import Any

import pytest

from shared.db import Database, pool
from shared.effects.outbox import perform
from shared.errors import ConflictError, InvalidDataError, UpstreamError
from tests.support.backends import terminate_idle_backends

KEY = "discord:1:pass"


def _row(db: Database) -> dict[str, Any]:
    with db.transaction() as tx:
        row = tx.one(
            "SELECT state, response, attempts, error, request, kind"
            " FROM runtime.effects WHERE idempotency_key = :key",
            key=KEY,
        )
    assert row is not None
    return row


class Counter:
    """A side effect that counts its calls and answers a JSON object."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"id": f"msg-{self.calls}"}


def _perform(db: Database, call: Any, **kw: Any) -> Any:
    return perform(
        db, key=KEY, kind="discord", run_id=None, request={"content": "hi"}, call=call, **kw
    )


def test_first_call_performs_and_records_the_response(db: Database) -> None:
    call = Counter()
    result = _perform(db, call)
    assert (result.state, result.response, result.performed_now) == ("done", {"id": "msg-1"}, True)
    row = _row(db)
    assert row["state"] == "done" and row["response"] == {"id": "msg-1"}
    assert row["request"] == {"content": "hi"} and row["kind"] == "discord"


def test_done_effect_is_returned_without_calling_again(db: Database) -> None:
    call = Counter()
    _perform(db, call)
    again = _perform(db, call)
    assert call.calls == 1
    assert again.performed_now is False and again.response == {"id": "msg-1"}


def test_fresh_claim_of_another_worker_is_a_conflict(db: Database) -> None:
    outer = Counter()

    def racing_call() -> dict[str, Any]:
        # While this worker holds the claim, a second delivery must not call out.
        with pytest.raises(ConflictError):
            _perform(db, outer)
        return {"id": "first"}

    result = _perform(db, racing_call)
    assert outer.calls == 0 and result.response == {"id": "first"}


def test_stale_claim_of_a_crashed_worker_is_taken_over(db: Database) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO runtime.effects (idempotency_key, kind, state, attempts, claimed_at)"
            " VALUES (:key, 'discord', 'claimed', 1, now() - interval '5 minutes')",
            key=KEY,
        )
    call = Counter()
    result = _perform(db, call)
    assert result.performed_now and call.calls == 1
    assert _row(db)["attempts"] == 2 and _row(db)["state"] == "done"


def test_transient_failure_releases_the_claim_for_the_retry(db: Database) -> None:
    def failing() -> dict[str, Any]:
        raise UpstreamError("Discord answered 502")

    with pytest.raises(UpstreamError):
        _perform(db, failing)
    row = _row(db)
    assert row["state"] == "claimed" and "502" in row["error"]

    call = Counter()
    result = _perform(db, call)
    assert result.performed_now and call.calls == 1
    row = _row(db)
    assert (row["state"], row["attempts"], row["error"]) == ("done", 2, None)


def test_permanent_failure_marks_the_effect_failed_and_is_not_repeated(db: Database) -> None:
    def rejected() -> dict[str, Any]:
        raise InvalidDataError("content too long", field="content")

    with pytest.raises(InvalidDataError):
        _perform(db, rejected)
    call = Counter()
    result = _perform(db, call)
    assert call.calls == 0
    assert result.state == "failed" and "content too long" in (result.error or "")


def test_a_record_lost_with_its_connection_is_made_on_a_new_one(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream answered; the connection the record borrows was lost without notice (a
    failover that sent no FIN: the pool's check cannot see it). The record is made on a new
    connection instead of leaving the claim to be taken over and the call repeated."""
    monkeypatch.setattr(pool, "closed_by_server", lambda con: False)
    call = Counter()

    def call_then_lose_the_idle_connections() -> dict[str, Any]:
        answer = call()
        terminate_idle_backends(db.url)
        return answer

    result = _perform(db, call_then_lose_the_idle_connections)
    assert (result.state, result.performed_now, call.calls) == ("done", True, 1)
    row = _row(db)
    assert (row["state"], row["attempts"], row["response"]) == ("done", 1, {"id": "msg-1"})
