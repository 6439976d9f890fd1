"""The scheduler's use case: wake only the timer owners that have work (DESIGN §2 "Nothing waits
in memory", §4 "Ticks"; issue 8 "Idle costs nothing").

A PingSource fires every minute into the Broker. Were every timer owner (ci-status,
review-gate, judge, deploy, rerun) subscribed to it, each would be woken every minute and none
would ever scale to zero. Instead the tick wakes this function alone, which reads the database
and publishes to ``K_SINK`` one ``io.codexjudge.timers.due.v1`` per owner that has

* at least one due pending timer in ``runtime.timers`` (:func:`shared.waits.timers.due_by_owner`,
  one statement), or
* an orphaned wait — a run waiting on a gate that holds no pending timer for it
  (:func:`shared.waits.orphans.owners_with_orphans`, one ``LIMIT 1`` probe per gate) — which the
  gate adopts when woken.

Each event carries the extension ``timerowner=<owner>`` (each owner's Trigger filters on it),
subject ``<owner>``, the id ``<tick id>:<owner>`` and :class:`~shared.models.events.TimersDue`
data. The owner handles it as it handled the tick: adopt, then every due timer of its own.

Delivery (DESIGN §6): the queries and publishes run in the tick's inbox transaction. A publish
that fails (no ``K_SINK``: :class:`~shared.errors.SinkNotBoundError`; the Broker
unreachable) answers 503 and rolls the inbox row back, so the retried tick publishes every event
again with the same ids, which the owners' inboxes deduplicate; timers are only read here, so
nothing is lost. A duplicate tick is answered from the inbox and publishes nothing.

After publishing, each tick deletes one bounded batch per growing table
(:mod:`functions.scheduler.retention`), each batch in a transaction of its own.
"""

from __future__ import annotations

from functions.scheduler import retention
from shared.models.events import TIMER_OWNER_EXTENSION, TIMERS_DUE, TimersDue
from shared.runtime.envelope import Envelope, OutgoingEvent
from shared.runtime.outcomes import Context, NoReply, Outcome
from shared.waits import orphans, timers

CONSUMER = "scheduler"


def on_ping(event: Envelope, ctx: Context) -> Outcome:
    """On a PingSource tick, publish a ``timers.due`` for each owner with work; answer 202.

    Raises:
        UpstreamError: ``K_SINK`` is unset or the Broker did not accept an event (503; the tick
            is retried and publishes the same events again).
        TransientError: the database failed (503).
    """
    work = owners_with_work(ctx)
    for data in work:
        ctx.deps.broker().publish(wake_up(event, data, ctx.deps.settings.event_source))
    batches = retention.run_batches(ctx.deps.db, ctx.deps.settings)
    deleted = {t: n for t, n in batches.items() if n}
    kept = f"; retention deleted {deleted}" if deleted else ""
    if not work:
        return NoReply(f"tick: nothing due{kept}")
    return NoReply(f"tick: woke {', '.join(d.owner for d in work)}{kept}")


def owners_with_work(ctx: Context) -> list[TimersDue]:
    """One :class:`TimersDue` per owner with due timers or orphaned waits, by owner name."""
    due = {d.owner: d for d in timers.due_by_owner(ctx.tx)}
    adopt = set(orphans.owners_with_orphans(ctx.tx))
    return [
        TimersDue(
            owner=owner,
            due=due[owner].due if owner in due else 0,
            oldest_due_at=due[owner].oldest_due_at if owner in due else None,
            adopt=owner in adopt,
        )
        for owner in sorted(due.keys() | adopt)
    ]


def wake_up(tick: Envelope, data: TimersDue, source_prefix: str) -> OutgoingEvent:
    """The ``timers.due`` event for ``data.owner`` on ``tick`` (id ``<tick id>:<owner>``)."""
    return OutgoingEvent(
        type=TIMERS_DUE,
        source=f"{source_prefix.rstrip('/')}/{CONSUMER}",
        id=f"{tick.id}:{data.owner}",
        data=data.model_dump(mode="json"),
        subject=data.owner,
        extensions={TIMER_OWNER_EXTENSION: data.owner},
    )
