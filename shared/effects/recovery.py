"""The owner's side of a recovery timer: handle the event again that asked for an effect whose
worker died (issue 10; :class:`shared.effects.outbox.Recovery`).

A function that passes a :class:`~shared.effects.outbox.Recovery` to
:func:`shared.effects.outbox.perform` (or :func:`shared.effects.writes.github_write`) is a timer
owner: its Trigger subscribes to ``io.codexjudge.timers.due.v1`` with ``timerowner = <owner>``, and
its tick calls
:func:`handle_again` for each due timer whose kind is ``effect:<key>``. The handler runs again on
the recorded event, in a savepoint of the tick's transaction: every effect it makes is keyed, so
what was done is answered from the outbox and what was not is done now, once.

* handled → the timer is completed (the handler also retires it with
  :func:`shared.effects.outbox.settle`) and its outcome returned, for the tick to publish;
* a transient failure (the effect still in flight elsewhere: 409; an upstream 5xx/429) → the
  savepoint rolls back and the timer moves :data:`shared.effects.outbox.RECOVERY_DELAY_S` on;
* a permanent failure → completed and logged: the event can never be handled (it would have
  been dead-lettered as a delivery);
* anything else that is this timer's own (a bug on its data) → the savepoint rolls back and the
  failure is recorded on the timer, which backs off behind the others
  (:func:`shared.waits.failures.fail_timer`: backed off, the run escalated after the last
  failure allowed); only the database or the deployment's
  configuration stop the tick (:func:`shared.waits.failures.stops_the_tick`).

Each tick handles an event at most once (:func:`distinct_events`): a second timer of the same
event is left for the next tick. Handling the same event twice in one transaction could make an
effect's claim transaction wait on a timer row the first pass updated in the tick's.
"""

from __future__ import annotations

import json
from typing import Any

from shared.effects import outbox
from shared.errors import PermanentError, TransientError
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, Handler, Outcome
from shared.waits import failures, timers


def event_of(timer: dict[str, Any]) -> Envelope:
    """The CloudEvent a recovery timer records, as an :class:`Envelope` (id ``recovery:<id>``)."""
    event_type, data = outbox.recovery_event(timer)
    return Envelope(
        id=f"recovery:{timer['id']}",
        source="/codex-judge/recovery",
        type=event_type,
        datacontenttype="application/json",
        data=json.dumps(data).encode(),
    )


def distinct_events(due: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recovery timers among ``due``, one per distinct recorded event (oldest first)."""
    seen: set[str] = set()
    out = []
    for timer in due:
        if not outbox.is_recovery(timer):
            continue
        payload = timer.get("payload") or {}
        fingerprint = json.dumps([payload.get("event_type"), payload.get("data")], sort_keys=True)
        if fingerprint not in seen:
            seen.add(fingerprint)
            out.append(timer)
    return out


def handle_again(ctx: Context, timer: dict[str, Any], handler: Handler) -> Outcome | None:
    """Handle a recovery timer's event with ``handler``; the outcome, or None when it must wait.

    The timer is completed only after the handler ran: updating it first would make an effect's
    claim transaction (a second connection) wait on this one.
    """
    try:
        with ctx.tx.savepoint(f"recovery_{int(timer['id'])}"):
            outcome = handler(event_of(timer), ctx)
    except TransientError as exc:
        ctx.log.warning(
            "recovery deferred",
            extra={"timer": timer["kind"], "run_id": timer["run_id"], "error": exc.message},
        )
        timers.schedule(
            ctx.tx,
            owner=str(timer["owner"]),
            run_id=int(timer["run_id"]),
            kind=str(timer["kind"]),
            delay_s=outbox.RECOVERY_DELAY_S,
            payload=dict(timer.get("payload") or {}),
        )
        return None
    except PermanentError as exc:
        ctx.log.error(
            "recovery refused for good",
            extra={"timer": timer["kind"], "run_id": timer["run_id"], "error": exc.message},
        )
        timers.complete(ctx.tx, int(timer["id"]))
        return None
    except Exception as exc:
        if failures.stops_the_tick(exc):
            raise
        return failures.fail_timer(ctx, timer, exc)
    timers.complete(ctx.tx, int(timer["id"]))
    return outcome
