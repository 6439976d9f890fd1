"""Durable waits and reconcile: how a gate waits for GitHub without waiting in memory
(DESIGN §2 "Nothing waits in memory", §12 item 1; issue 3 "Durable waits and reconcile").

A gate that starts (or keeps) waiting for a run calls :func:`note_waiting` in the transaction
that saw the news: it sets a **deadline** timer (``ci_timeout`` / ``review_timeout``, never
moved once set) and moves the run's **reconcile** timer to one ``policy.reconcile_interval_s``
from now. Every piece of news pushes the reconcile timer back, so when it fires the run has
waited a whole interval without news: the tick re-reads GitHub (level-triggered, like Prow
Tide's sync) and a lost webhook delays the run by at most one interval. :func:`settle` retires
a run's timers once the gate concluded.

:func:`run_tick` drives an owner's tick (the scheduler's ``timers.due`` waking it), shared by
every function that owns timers. It handles one due timer per transaction (``FOR UPDATE SKIP
LOCKED``, so concurrent ticks and a restarted process never handle the same timer twice at
once), and publishes what a timer
concluded to the Broker (``K_SINK``) only **after** that transaction committed: a consumer
that receives the event always finds the verdict in the database. The timer is completed only
after the publish, so a crash or a Broker outage between the two leaves it due, and the next
tick publishes the same event again (deterministic id; consumers' inboxes drop the copy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import timers
from shared.events import OutgoingEvent
from shared.publish import publish_event
from shared.runtime import Context, NoReply, Outcome, Reply, reply_event

RECONCILE = "reconcile"

SQL_RUN_TIMERS_CANCEL = """
UPDATE runtime.timers SET done_at = now()
WHERE owner = :owner AND run_id = :run_id AND done_at IS NULL
"""
# Complete a handled timer unless its handler moved it into the future (a wait noted again).
SQL_COMPLETE_UNLESS_MOVED = """
UPDATE runtime.timers SET done_at = now() WHERE id = :id AND due_at <= now()
"""
# A timer whose conclusion is not published yet stays pending, whatever the handler did to it.
SQL_HOLD = "UPDATE runtime.timers SET done_at = NULL WHERE id = :id"


def note_waiting(
    ctx: Context, *, run_id: int, deadline_kind: str, deadline_s: float, reconcile_s: float
) -> None:
    """Record that ``ctx.consumer`` waits for run ``run_id`` (in the caller's transaction).

    Args:
        deadline_kind: ``ci_timeout`` or ``review_timeout``; set once (``keep_existing``) so a
            repeated event never moves the deadline.
        deadline_s: seconds from the first wait to the deadline (policy timeout).
        reconcile_s: seconds without news before GitHub is re-read (policy reconcile interval).
    """
    owner = ctx.consumer
    timers.schedule(
        ctx.tx,
        owner=owner,
        run_id=run_id,
        kind=deadline_kind,
        delay_s=deadline_s,
        payload={"timeout_s": deadline_s},
        keep_existing=True,
    )
    timers.schedule(ctx.tx, owner=owner, run_id=run_id, kind=RECONCILE, delay_s=reconcile_s)


def adopt_orphans(
    ctx: Context,
    orphans_sql: str,
    *,
    deadline_kind: str,
    timeout_of: Callable[[Any], int],
    limit: int = 100,
) -> int:
    """Give each waiting run that has no pending timer (``orphans_sql`` lists them with
    ``id``, ``repository`` and ``waited_s``) its deadline, counted from when it started
    waiting, and an immediate reconcile; returns how many were adopted.

    Args:
        timeout_of: the policy's timeout in seconds for this wait (``ci_timeout_s`` …).
    """
    from shared.policy import effective_policy

    rows = ctx.tx.all(orphans_sql, owner=ctx.consumer, limit=limit)
    for row in rows:
        policy, _ = effective_policy(ctx.tx, ctx.deps.settings, row["repository"])
        note_waiting(
            ctx,
            run_id=row["id"],
            deadline_kind=deadline_kind,
            deadline_s=max(0.0, timeout_of(policy) - float(row["waited_s"])),
            reconcile_s=0.0,
        )
    return len(rows)


def settle(ctx: Context, run_id: int) -> None:
    """Retire every pending timer ``ctx.consumer`` holds for run ``run_id`` (it concluded).

    Inside :func:`run_tick` the timer being handled is held back until its event is published.
    """
    ctx.tx.run(SQL_RUN_TIMERS_CANCEL, owner=ctx.consumer, run_id=run_id)


@dataclass(frozen=True)
class Step:
    """What handling one due timer came to.

    Attributes:
        outcome: a :class:`Reply` to publish (the timer completes after the publish), or a
            :class:`NoReply`.
        again_s: with a NoReply, fire the same timer again after this many seconds instead of
            completing it. Without it the timer completes, unless the handler itself moved it
            into the future (a reconcile that noted the wait again).
        payload: with ``again_s``, the timer's new payload (a backoff's state); None keeps it.
    """

    outcome: Outcome
    again_s: float | None = None
    payload: dict[str, Any] | None = None


TimerHandler = Callable[[Context, dict[str, Any]], Step]
Adopter = Callable[[Context], int]


@dataclass
class TickReport:
    """What one tick did: timers handled, events published, runs adopted, and notes."""

    handled: int = 0
    published: int = 0
    adopted: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self) -> str:
        """A one-line summary for the NoReply note and the logs."""
        return (
            f"tick: {self.handled} timer(s) handled, {self.published} event(s) published,"
            f" {self.adopted} run(s) adopted"
        )


def run_tick(
    ctx: Context,
    handler: TimerHandler,
    *,
    adopt: Adopter | None = None,
    limit: int = 50,
) -> TickReport:
    """Handle every due timer of ``ctx.consumer`` (at most ``limit``) and publish the results.

    Args:
        ctx: the tick's context; its transaction holds only the tick's inbox row — each timer
            is handled in a transaction of its own so it commits before anything is published.
        handler: handles one claimed timer (a dict of ``runtime.timers`` columns) with a
            context whose ``tx`` is that timer's transaction; the run row is the handler's to
            lock.
        adopt: schedules timers for runs that wait without any (see the gates' tick modules).

    Raises:
        UpstreamError: the Broker could not be reached, or no SinkBinding gives this function a
            ``K_SINK`` (:class:`shared.publish.SinkNotBoundError`); the timer stays due and the
            answer is 503, so the tick is retried and the next one publishes.
        TransientError: the database failed; whatever committed stays committed.
    """
    report = TickReport()
    deps = ctx.deps
    if adopt is not None:
        with deps.db.transaction() as tx:
            report.adopted = adopt(_inner(ctx, tx))
    seen: set[int] = set()
    while report.handled < limit:
        with deps.db.transaction() as tx:
            due = [t for t in timers.claim_due(tx, ctx.consumer, limit=len(seen) + 1)]
            timer = next((t for t in due if t["id"] not in seen), None)
            if timer is None:
                break
            seen.add(int(timer["id"]))
            inner = _inner(ctx, tx)
            step = handler(inner, timer)
            report.handled += 1
            event: OutgoingEvent | None = None
            if isinstance(step.outcome, Reply):
                event = reply_event(
                    ctx.consumer, deps.settings.event_source, step.outcome, inner.extensions_out
                )
                tx.run(SQL_HOLD, id=timer["id"])
            elif step.again_s is not None:
                _again(tx, ctx.consumer, timer, step.again_s, step.payload)
            else:
                tx.run(SQL_COMPLETE_UNLESS_MOVED, id=timer["id"])
            report.notes.append(f"{timer['kind']}#{timer['run_id']}: {_describe(step.outcome)}")
        if event is not None:
            publish_event(deps.settings, event)  # raises (503) with the timer still due
            report.published += 1
            with deps.db.transaction() as tx:
                timers.complete(tx, int(timer["id"]))
    ctx.log.info(report.note(), extra={"tick_notes": report.notes})
    return report


def _inner(ctx: Context, tx: Any) -> Context:
    return Context(tx=tx, deps=ctx.deps, consumer=ctx.consumer, log=ctx.log)


def _again(
    tx: Any, owner: str, timer: dict[str, Any], delay_s: float, payload: dict[str, Any] | None
) -> None:
    timers.schedule(
        tx,
        owner=owner,
        run_id=int(timer["run_id"]),
        kind=str(timer["kind"]),
        delay_s=delay_s,
        payload=payload if payload is not None else dict(timer.get("payload") or {}),
    )


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, NoReply):
        return outcome.note
    return outcome.type


def tick_outcome(report: TickReport) -> NoReply:
    """The tick's answer: 202, nothing to reply (every event was published)."""
    return NoReply(report.note())
