"""judge woken by the scheduler's ``timers.due``: re-polling ``mergeable_state: unknown`` with
backoff (issue 3 "Durable waits and reconcile"; driver in :mod:`shared.waits.reconcile`).

GitHub computes a pull request's mergeability lazily: right after a push, ``GET /pulls/{n}``
answers ``mergeable: null`` / ``mergeable_state: "unknown"`` and starts a background job
(GitHub REST "Pulls": "the value of the mergeable attribute can be true, false, or null … a
background job is started to compute it"). The judge then schedules a ``mergeable_poll`` timer
(owner ``judge``, :data:`functions.judge.decide.MERGEABLE_POLL`) and decides nothing. On each
due timer this module calls :func:`functions.judge.decide.decide_run` again:

* a decision → it is published as ``judge.decided`` (with the ``decision`` extension);
* still unknown → the timer fires again after an exponential backoff (doubling from the first
  poll's delay, at most :data:`MAX_BACKOFF_S`), its state (``waited_s``, ``polls``) in the
  timer's payload;
* ``policy.mergeable_poll_timeout_s`` waited → ``decide_run(…, mergeable_timed_out=True)``
  seals needs_human ``mergeable_unknown``.
"""

from __future__ import annotations

from typing import Any

from functions.judge import decide
from shared.policy.resolution import effective_policy
from shared.runs import get_run
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits.reconcile import Step, run_tick, tick_outcome

MAX_BACKOFF_S = 60.0


def handle(event: Envelope, ctx: Context) -> Outcome:
    """Handle a tick: every due judge timer."""
    return tick_outcome(run_tick(ctx, on_timer))


def next_delay_s(polls: int, first_s: float | None = None) -> float:
    """The backoff before poll ``polls + 1`` (``polls`` ≥ 1 done): first * 2**polls, capped;
    ``first_s`` defaults to the judge's first poll delay."""
    first = decide.MERGEABLE_FIRST_POLL_S if first_s is None else first_s
    return float(min(MAX_BACKOFF_S, first * (2**polls)))


def on_timer(ctx: Context, timer: dict[str, Any]) -> Step:
    """Handle one due ``mergeable_poll`` timer."""
    run_id = int(timer["run_id"])
    if timer["kind"] != decide.MERGEABLE_POLL:
        return Step(NoReply(f"unknown timer kind {timer['kind']}", run_id=run_id))
    state = dict(timer.get("payload") or {})
    polls = int(state.get("polls") or 0) + 1
    waited = float(state.get("waited_s") or decide.MERGEABLE_FIRST_POLL_S)
    run = get_run(ctx.tx, run_id)
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, run.repository if run else None)
    timed_out = waited >= policy.mergeable_poll_timeout_s
    outcome = decide.decide_run(ctx, run_id, mergeable_timed_out=timed_out)
    if isinstance(outcome, Reply) or timed_out or not (run and run.active):
        return Step(outcome)  # decided, given up, or the run moved on
    delay = min(next_delay_s(polls), max(1.0, policy.mergeable_poll_timeout_s - waited))
    state.update(polls=polls, waited_s=waited + delay)
    return Step(outcome, again_s=delay, payload=state)
