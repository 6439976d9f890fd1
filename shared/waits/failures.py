"""A timer whose handler fails: recorded on the timer and backed off behind the others, and
after :data:`MAX_TIMER_ATTEMPTS` failures in a row, the last permanent, its run is escalated
(``needs_human``, ``timer_failed``) — one bad timer never blocks the others and none backs off
for ever (issue 10; :func:`shared.waits.reconcile.run_tick` and the ticks that handle their
timers in their own transaction: deploy, rerun, the recovery timers)."""

from __future__ import annotations

from typing import Any

from shared.db.pool import is_transient
from shared.errors import (
    CodexJudgeError,
    ConfigurationError,
    RateLimitedError,
    TransientError,
    UpstreamError,
)
from shared.runtime.outcomes import Context, Reply
from shared.waits import timers
from shared.waits.escalation import TIMER_FAILED, escalate

#: A timer's failures in a row (the last permanent) before its run is escalated.
MAX_TIMER_ATTEMPTS = 5


def stops_the_tick(exc: Exception) -> bool:
    """Whether ``exc`` concerns every timer (the database, the deployment) rather than this
    one (an upstream's answer about this run, a bug on this run's data).

    Ticks that handle their timers in one transaction (deploy, rerun, the recovery timers of
    :mod:`shared.effects.recovery`) re-raise such an error and record any other with
    :func:`record_timer_failure`, so one bad timer never blocks the others.
    """
    if isinstance(exc, ConfigurationError):
        return True
    if isinstance(exc, UpstreamError | RateLimitedError):
        return False
    if isinstance(exc, TransientError):  # the database, a schema behind, a conflict
        return True
    if isinstance(exc, CodexJudgeError):
        return False
    return is_transient(exc)  # a pg8000 connection error the pool has not wrapped yet


def record_timer_failure(ctx: Context, timer: dict[str, Any], error: Exception) -> int | None:
    """Log that handling ``timer`` raised ``error`` and record it on the timer in ``ctx.tx``:
    ``attempts`` + 1, ``last_error``, and a backoff behind every timer due now (at least the
    ``Retry-After`` of a rate limit; :func:`shared.waits.timers.record_failure`).

    Call it after the work of the failed attempt was rolled back (its transaction or savepoint).

    Returns:
        The timer's ``attempts`` after this failure, or None when it is no longer pending.
    """
    text = f"{type(error).__name__}: {error}"
    floor = error.retry_after if isinstance(error, RateLimitedError) else 0.0
    extra = {"timer_id": timer["id"], "run_id": timer["run_id"], "kind": timer["kind"]}
    if isinstance(error, CodexJudgeError):
        ctx.log.warning("timer failed; backing off: %s", text, extra=extra)
    else:
        ctx.log.error("timer failed; backing off: %s", text, extra=extra, exc_info=error)
    return timers.record_failure(ctx.tx, int(timer["id"]), error=text, floor_s=floor)


def fail_timer(ctx: Context, timer: dict[str, Any], error: Exception) -> Reply | None:
    """:func:`record_timer_failure` for a tick that handles its timers in its own transaction
    (deploy, rerun), with :func:`run_tick`'s rule: after :data:`MAX_TIMER_ATTEMPTS` failures in
    a row, the last permanent, the run is escalated (``needs_human``, :data:`TIMER_FAILED`) and
    the timer completed, in ``ctx.tx``.

    Returns:
        The ``run.escalated`` reply for the caller to publish in that transaction (a publish
        that fails rolls the escalation back with it), or None.
    """
    attempts = record_timer_failure(ctx, timer, error)
    if attempts is None or isinstance(error, TransientError) or attempts < MAX_TIMER_ATTEMPTS:
        return None
    timers.complete(ctx.tx, int(timer["id"]))
    if timer["run_id"] is None:
        return None
    failed = {**timer, "attempts": attempts, "last_error": f"{type(error).__name__}: {error}"}
    outcome = escalate(
        ctx, int(timer["run_id"]), reason=TIMER_FAILED, message=failed_message(failed)
    )
    return outcome if isinstance(outcome, Reply) else None


def failed_message(timer: dict[str, Any]) -> str:
    """The ``run.escalated`` message of a timer that failed too often (its kind, attempts and
    last error)."""
    return (
        f"the {timer['owner']} timer {timer['kind']} failed {timer.get('attempts')} times in a"
        f" row; last error: {timer.get('last_error')}"
    )
