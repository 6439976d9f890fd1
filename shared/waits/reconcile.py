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

**One bad timer never blocks the others** (DESIGN §6, issue 10). A handler that raises for one
timer — a permanent error (GitHub refused, a bug), an upstream 5xx or timeout — rolls back that
timer's transaction only; the failure is recorded on the timer (``attempts``, ``last_error``),
the timer moves back by an exponential backoff (:func:`shared.waits.timers.record_failure`: 1 min,
doubling, at most 1 h) behind everything due now, and the tick goes on with the next timer and
answers 202. After :data:`MAX_TIMER_ATTEMPTS` failures in a row, the last one permanent, the
run is escalated (``needs_human``, reason :data:`TIMER_FAILED`, ``run.escalated``) and the timer
completes. Only what every timer needs stops the tick: the database (503), the deployment's
configuration (500), and an upstream rate limit (the failing timer backs off by its
``Retry-After``; the others stay due for the next tick rather than spend more requests).

:func:`shared.waits.escalation.escalate_not_found` is how a gate records an upstream "not found"
(:class:`~shared.errors.UpstreamNotFoundError`: the PR was deleted, the repository renamed or
made private) as a decision: the run goes ``needs_human`` with ``pull_request_not_found``,
``repository_not_found`` or ``commit_not_found``, its timers are settled and ``run.escalated``
is replied, so Discord tells a person — never a dead letter, never a 404 to Knative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import runs
from shared.errors import (
    RateLimitedError,
    TransientError,
)
from shared.runtime.envelope import OutgoingEvent
from shared.runtime.inbox import reply_event
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits import timers
from shared.waits.escalation import TIMER_FAILED, escalate
from shared.waits.failures import (
    MAX_TIMER_ATTEMPTS,
    failed_message,
    record_timer_failure,
    stops_the_tick,
)
from shared.waits.orphans import OrphanFinder

RECONCILE = "reconcile"

# Complete a handled timer unless its handler moved it into the future (a wait noted again).
SQL_COMPLETE_UNLESS_MOVED = """
UPDATE runtime.timers SET done_at = now() WHERE id = :id AND due_at <= now()
"""
# A timer whose conclusion is not published yet stays pending, whatever the handler did to it.
SQL_HOLD = "UPDATE runtime.timers SET done_at = NULL WHERE id = :id"
# ... and due: an escalation after failures is published by the next tick if this one fails.
SQL_HOLD_DUE = "UPDATE runtime.timers SET done_at = NULL, due_at = now() WHERE id = :id"


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
    find: OrphanFinder,
    *,
    deadline_kind: str,
    timeout_of: Callable[[Any], int],
    limit: int = 100,
) -> int:
    """Give each waiting run that has no pending timer (``find`` lists them with the seconds
    each has waited: :mod:`shared.waits.orphans`) its deadline, counted from when it started
    waiting, and an immediate reconcile; returns how many were adopted.

    Args:
        timeout_of: the policy's timeout in seconds for this wait (``ci_timeout_s`` …).
    """
    from shared.policy.resolution import effective_policy

    orphans = find(ctx.tx, owner=ctx.consumer, limit=limit)
    for run, waited_s in orphans:
        policy, _ = effective_policy(ctx.tx, ctx.deps.settings, run.repository)
        note_waiting(
            ctx,
            run_id=run.id,
            deadline_kind=deadline_kind,
            deadline_s=max(0.0, timeout_of(policy) - waited_s),
            reconcile_s=0.0,
        )
    return len(orphans)


def settle(ctx: Context, run_id: int) -> None:
    """Retire every pending timer ``ctx.consumer`` holds for run ``run_id`` (it concluded).

    Inside :func:`run_tick` the timer being handled is held back until its event is published.
    """
    timers.cancel_run(ctx.tx, owner=ctx.consumer, run_id=run_id)


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
    """What one tick did: timers handled (failed ones included), of which failed, events
    published, runs adopted, and notes."""

    handled: int = 0
    published: int = 0
    adopted: int = 0
    failed: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self) -> str:
        """A one-line summary for the NoReply note and the logs."""
        return (
            f"tick: {self.handled} timer(s) handled, {self.published} event(s) published,"
            f" {self.adopted} run(s) adopted, {self.failed} failed and backed off"
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

    A handler's failure is the timer's, not the tick's (see the module docstring): it is
    recorded on the timer, which backs off behind the others, and the tick goes on.

    Raises:
        UpstreamError: the Broker could not be reached, or no SinkBinding gives this function a
            ``K_SINK`` (:class:`shared.errors.SinkNotBoundError`); the timer stays due and
            the answer is 503, so the tick is retried and the next one publishes.
        TransientError: the database failed; whatever committed stays committed.
        ConfigurationError: the deployment is wrong (500), whichever timer found out.
    """
    report = TickReport()
    deps = ctx.deps
    if adopt is not None:
        with deps.db.transaction() as tx:
            report.adopted = adopt(_inner(ctx, tx))
    seen: set[int] = set()
    while report.handled < limit:
        event: OutgoingEvent | None = None
        try:
            with deps.db.transaction() as tx:
                due = timers.claim_due(tx, ctx.consumer, limit=1, exclude=frozenset(seen))
                timer = due[0] if due else None
                if timer is None:
                    break
                seen.add(int(timer["id"]))
                inner = _inner(ctx, tx)
                step = _handle(handler, inner, timer)
                report.handled += 1
                if isinstance(step.outcome, Reply):
                    event = reply_event(
                        ctx.consumer, deps.settings.event_source, step.outcome, inner.extensions_out
                    )
                    tx.run(SQL_HOLD, id=timer["id"])
                elif step.again_s is not None:
                    _again(tx, ctx.consumer, timer, step.again_s, step.payload)
                else:
                    tx.run(SQL_COMPLETE_UNLESS_MOVED, id=timer["id"])
                note = _describe(step.outcome)
                report.notes.append(f"{timer['kind']}#{timer['run_id']}: {note}")
        except _TimerFailed as failed:
            timer = failed.timer
            report.handled += 1
            report.failed += 1
            event = _on_failure(ctx, failed.timer, failed.error, report)
            if isinstance(failed.error, RateLimitedError) and event is None:
                break  # the next timer would meet the same limit: it stays due for later
        if event is not None:
            deps.broker().publish(event)  # raises (503) with the timer still due
            report.published += 1
            with deps.db.transaction() as tx:
                timers.complete(tx, int(timer["id"]))
    ctx.log.info(report.note(), extra={"tick_notes": report.notes})
    return report


class _TimerFailed(Exception):
    """A handler raised for one timer (carried out of its transaction, which rolls back)."""

    def __init__(self, timer: dict[str, Any], error: Exception) -> None:
        super().__init__(str(error))
        self.timer = timer
        self.error = error


def _handle(handler: TimerHandler, ctx: Context, timer: dict[str, Any]) -> Step:
    """Run ``handler`` for ``timer``; a failure that is the timer's own is a :class:`_TimerFailed`.

    A timer that already failed :data:`MAX_TIMER_ATTEMPTS` times and escalated its run is only
    held for its ``run.escalated``: that reply is rebuilt, the handler not called again.
    """
    if int(timer.get("attempts") or 0) >= MAX_TIMER_ATTEMPTS and timer.get("run_id") is not None:
        run = runs.get_run(ctx.tx, int(timer["run_id"]))
        if run is not None and run.escalated_for(TIMER_FAILED):
            return Step(escalate(ctx, run.id, reason=TIMER_FAILED, message=failed_message(timer)))
    try:
        return handler(ctx, timer)
    except Exception as exc:
        if stops_the_tick(exc):
            raise
        raise _TimerFailed(timer, exc) from exc


def _on_failure(
    ctx: Context, timer: dict[str, Any], error: Exception, report: TickReport
) -> OutgoingEvent | None:
    """Record a handler's failure on its timer (a transaction of its own) and back it off;
    after :data:`MAX_TIMER_ATTEMPTS` in a row, the last permanent, escalate the run.

    Returns:
        The ``run.escalated`` event to publish (the timer held due until then), or None.
    """
    deps = ctx.deps
    text = f"{type(error).__name__}: {error}"
    permanent = not isinstance(error, TransientError)
    with deps.db.transaction() as tx:
        attempts = record_timer_failure(_inner(ctx, tx), timer, error)
        report.notes.append(f"{timer['kind']}#{timer['run_id']}: failed ({attempts}): {text}")
        if attempts is None or not permanent or attempts < MAX_TIMER_ATTEMPTS:
            return None
        if timer["run_id"] is None:
            timers.complete(tx, int(timer["id"]))
            return None
        failed = {**timer, "attempts": attempts, "last_error": text}
        inner = _inner(ctx, tx)
        outcome = escalate(
            inner, int(timer["run_id"]), reason=TIMER_FAILED, message=failed_message(failed)
        )
        if not isinstance(outcome, Reply):
            timers.complete(tx, int(timer["id"]))
            return None
        tx.run(SQL_HOLD_DUE, id=timer["id"])
        return reply_event(ctx.consumer, deps.settings.event_source, outcome, inner.extensions_out)


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
