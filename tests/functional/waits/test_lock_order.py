"""The lock order of :mod:`shared.runs.locks` (issue 12): a tick claims a due timer only after
its run row, and skips a run an event is handling instead of waiting on it, so a tick and the
event path never hold what the other waits for."""

from __future__ import annotations

from shared import runs
from shared.db import Database
from shared.waits import timers
from tests.functional.scheduler.test_scheduler import run_in


def test_a_tick_skips_a_timer_whose_run_an_event_holds_and_claims_it_after(db: Database) -> None:
    run_id = run_in(db, "waiting_for_ci", 1)
    free_id = run_in(db, "waiting_for_ci", 2)
    with db.transaction() as tx:
        timers.schedule(tx, owner="ci-status", run_id=run_id, kind="reconcile", delay_s=0)
        timers.schedule(tx, owner="ci-status", run_id=free_id, kind="reconcile", delay_s=0)
    with db.transaction() as event:
        assert runs.lock(event, run_id) is not None  # the event path: run first
        with db.transaction() as tick:
            tick.run("SET LOCAL lock_timeout = '2s'")  # waiting would fail, not hang
            claimed = timers.claim_due(tick, "ci-status")
            assert [t["run_id"] for t in claimed] == [free_id]
        # ... then the run's timers, which no tick holds.
        timers.schedule(event, owner="ci-status", run_id=run_id, kind="reconcile", delay_s=0)
    with db.transaction() as tick:
        claimed = timers.claim_due(tick, "ci-status", exclude=frozenset({claimed[0]["id"]}))
        assert [t["run_id"] for t in claimed] == [run_id]
