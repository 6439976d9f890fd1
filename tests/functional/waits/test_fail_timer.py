"""A tick that handles its timers in its own transaction (deploy, rerun, the recovery timers)
escalates a run whose timer keeps failing, like the gates' ticks do (issue 10: no timer backs
off for ever)."""

from __future__ import annotations

import logging
from typing import Any

from shared.bootstrap import Container
from shared.errors import TransientError, UpstreamRejectedError
from shared.models.events import RUN_ESCALATED
from shared.runtime.outcomes import Context
from shared.waits import timers
from shared.waits.failures import MAX_TIMER_ATTEMPTS, fail_timer
from tests.support.api_seed import seed_run

LOG = logging.LoggerAdapter(logging.getLogger("test"), {})


def _due_timer(deps: Container, run_id: int, attempts: int) -> dict[str, Any]:
    with deps.db.transaction() as tx:
        timers.schedule(tx, owner="deploy", run_id=run_id, kind="poll", delay_s=0)
        tx.run(
            "UPDATE runtime.timers SET attempts = :n WHERE run_id = :id AND owner = 'deploy'",
            n=attempts,
            id=run_id,
        )
        timer = tx.one("SELECT * FROM runtime.timers WHERE run_id = :id", id=run_id)
    assert timer is not None
    return timer


def _state(deps: Container, run_id: int) -> dict[str, Any]:
    with deps.db.transaction() as tx:
        row = tx.one(
            "SELECT r.status, r.reason, t.attempts, t.done_at IS NULL AS pending"
            " FROM codex_judge.runs r JOIN runtime.timers t ON t.run_id = r.id WHERE r.id = :id",
            id=run_id,
        )
    assert row is not None
    return row


def test_the_last_permanent_failure_allowed_escalates_the_run_and_retires_the_timer(
    deps: Container,
) -> None:
    run_id = seed_run(deps.db, status="deploying", decision="pass", reason=None)
    timer = _due_timer(deps, run_id, MAX_TIMER_ATTEMPTS - 1)
    refused = UpstreamRejectedError("Argo CD answered 403", field="application")
    with deps.db.transaction() as tx:
        reply = fail_timer(Context(tx, deps, "deploy", LOG), timer, refused)
    assert reply is not None and reply.type == RUN_ESCALATED
    assert reply.data.reason == "timer_failed"  # type: ignore[attr-defined]
    assert f"failed {MAX_TIMER_ATTEMPTS} times" in reply.data.message  # type: ignore[attr-defined]
    state = _state(deps, run_id)
    assert (state["status"], state["reason"], state["pending"]) == (
        "needs_human",
        "timer_failed",
        False,
    )


def test_earlier_or_transient_failures_only_back_the_timer_off(deps: Container) -> None:
    run_id = seed_run(deps.db, status="deploying", decision="pass", reason=None)
    timer = _due_timer(deps, run_id, MAX_TIMER_ATTEMPTS - 2)
    with deps.db.transaction() as tx:
        ctx = Context(tx, deps, "deploy", LOG)
        assert fail_timer(ctx, timer, UpstreamRejectedError("403", field="application")) is None
    timer = _due_timer(deps, run_id, MAX_TIMER_ATTEMPTS - 1)
    with deps.db.transaction() as tx:
        ctx = Context(tx, deps, "deploy", LOG)
        assert fail_timer(ctx, timer, TransientError("Argo CD 503")) is None
    state = _state(deps, run_id)
    assert (state["status"], state["attempts"], state["pending"]) == (
        "deploying",
        MAX_TIMER_ATTEMPTS,
        True,
    )
