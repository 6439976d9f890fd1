"""The effects outbox: every external side effect happens at most once per idempotency key
(DESIGN §5, "claim a row, perform the call, record the response").

:func:`perform` runs in three steps, each claim/record in its own committed transaction so the
claim is visible to every other worker before the call goes out:

1. **claim** ``runtime.effects(idempotency_key)``: ``INSERT … ON CONFLICT DO NOTHING``. When the
   row exists: ``done`` (or ``failed``) → return it without calling; ``claimed`` less than a
   lease ago → :class:`ConflictError` (409, Knative retries later); ``claimed`` longer ago (a
   worker that crashed mid-call) or released → take it over, ``attempts + 1``. With a
   :class:`Recovery`, the same transaction arms the owner's recovery timer;
2. **call** the upstream, outside any transaction;
3. **record** (once more on a new connection if the first attempt fails transiently,
   :func:`_record`): the response and ``done``; a :class:`TransientError` (or an unexpected
   error) records ``error``, counts the failure (``failures + 1``, or ``rate_limited + 1`` for
   a :class:`RateLimitedError`: ``attempts`` counts claims, a dead worker's included) and
   releases the claim (``claimed_at = -infinity``) so the redelivery proceeds at once, then
   re-raises; a :class:`PermanentError` marks the row ``failed`` and
   re-raises (the event goes to the dead-letter sink).

The pattern follows AWS Powertools' idempotency utility (insert first, INPROGRESS/COMPLETED,
expiry of stale in-progress records).

**Crashes between the steps** (issue 10). A worker can die, or lose Postgres, after the claim
and before the record: the upstream may or may not have acted. Two rules make that safe:

* the call itself is idempotent upstream wherever the upstream allows it (a deterministic Argo
  workflow name, Facteur's ``delivery_id``, a deterministic GitHub branch), so the worker that
  takes the claim over repeats it harmlessly and finds the first answer;
* the claim is *owned*: a :class:`Recovery` names the function and the event that asked for
  the effect, and its timer (``runtime.timers``, kind ``effect:<key>``) is written in the claim's
  transaction. The caller retires it with :func:`settle` in the transaction that records the
  business outcome; if that transaction never commits, the timer fires and the owner's tick
  handles the event again (:func:`recovery_event`), which finishes the effect idempotently.

**Claim lifetime.** :data:`LEASE_S` (60 s) must be longer than any upstream call (the adapters'
timeouts are 10 s; :data:`MAX_CALL_S`) so a live call is never taken over, and far shorter than
the delivery's retry window: the Triggers retry 10 times from 1 s, exponentially
(1 + 2 + … + 512 s ≈ 17 min, ``triggers/*.yaml``), and the 409s a fresh claim answers spend
only the first six retries (63 s) before the lease has passed — under a tenth of the window, so
a redelivery always outlives the claim of a worker that died. The recovery timer fires
:data:`RECOVERY_DELAY_S` after the claim (just past the lease) and does not depend on the
window at all: a delivery that is dead-lettered or lost still has its effect finished.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared.db import Database, Tx
from shared.errors import ConflictError, PermanentError, RateLimitedError, TransientError
from shared.waits import timers

#: Seconds a claim protects an in-flight call (see the module docstring).
LEASE_S = 60.0
#: The longest an upstream call may take (seconds): the adapters' timeouts stay below it.
MAX_CALL_S = 30.0
#: Seconds from a claim to its recovery timer: just past the lease, so the tick can take over.
RECOVERY_DELAY_S = LEASE_S + 15.0
#: The kind prefix of recovery timers (``effect:<idempotency key>``).
RECOVERY_KIND = "effect:"

EffectState = Literal["claimed", "done", "failed"]

SQL_CLAIM = """
INSERT INTO runtime.effects (idempotency_key, kind, run_id, state, request, attempts, claimed_at)
VALUES (:key, :kind, :run_id, 'claimed', CAST(:request AS jsonb), 1, now())
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING attempts
"""
SQL_TAKE_OVER = """
UPDATE runtime.effects
   SET claimed_at = now(), attempts = attempts + 1, request = CAST(:request AS jsonb)
 WHERE idempotency_key = :key AND state = 'claimed'
   AND claimed_at < now() - make_interval(secs => :lease_s)
RETURNING attempts
"""
SQL_GET = """
SELECT state, response, attempts, error FROM runtime.effects WHERE idempotency_key = :key
"""
SQL_DONE = """
UPDATE runtime.effects
   SET state = 'done', response = CAST(:response AS jsonb), error = NULL, completed_at = now()
 WHERE idempotency_key = :key AND state <> 'done'
"""
SQL_RELEASE = """
UPDATE runtime.effects
   SET error = :error, claimed_at = '-infinity',
       failures = failures + CAST(:failed AS integer),
       rate_limited = rate_limited + CAST(:limited AS integer)
 WHERE idempotency_key = :key AND state = 'claimed' AND attempts = :attempts
"""
SQL_FAILED = """
UPDATE runtime.effects
   SET state = 'failed', error = :error, completed_at = now()
 WHERE idempotency_key = :key AND state = 'claimed'
"""


@dataclass(frozen=True)
class Recovery:
    """Who finishes an effect whose worker died: the timer armed with the claim.

    Attributes:
        owner: the timer owner (the function's Knative Service name, e.g. ``discord``); its
            Trigger subscribes to ``timers.due`` with ``timerowner = owner``.
        run_id: the run the timer belongs to (``runtime.timers.run_id``).
        event_type: the CloudEvent type the owner handles again on its tick.
        data: that event's ``data`` (JSON), enough to handle it again from scratch.
        delay_s: seconds from the claim to the timer (past the lease).
    """

    owner: str
    run_id: int
    event_type: str
    data: dict[str, Any]
    delay_s: float = RECOVERY_DELAY_S


def recovery_kind(key: str) -> str:
    """The recovery timer's kind for the effect ``key``: ``effect:<key>``."""
    return f"{RECOVERY_KIND}{key}"


def is_recovery(timer: dict[str, Any]) -> bool:
    """Whether a ``runtime.timers`` row is a recovery timer (kind ``effect:…``)."""
    return str(timer.get("kind") or "").startswith(RECOVERY_KIND)


def recovery_event(timer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``(event type, data)`` a recovery timer asks its owner to handle again.

    Raises:
        ValueError: the timer is not a recovery timer (a programming error).
    """
    payload = timer.get("payload") or {}
    if not is_recovery(timer) or not payload.get("event_type"):
        raise ValueError(f"timer {timer.get('id')} ({timer.get('kind')}) is no recovery timer")
    return str(payload["event_type"]), dict(payload.get("data") or {})


def settle(tx: Tx, key: str, recovery: Recovery | None) -> None:
    """Retire the recovery timer of ``key`` in ``tx``, the caller's transaction that records
    the business outcome: both commit, or neither does and the timer still owns the effect.

    Call it only after :func:`perform` returned (a timer updated earlier in ``tx`` would make
    the claim's own transaction wait on ``tx``).
    """
    if recovery is not None:
        timers.cancel(tx, owner=recovery.owner, run_id=recovery.run_id, kind=recovery_kind(key))


@dataclass(frozen=True)
class EffectResult:
    """The outcome of :func:`perform`.

    Attributes:
        state: ``done`` (the call succeeded, now or before) or ``failed`` (an earlier call was
            permanently rejected; it is not repeated).
        response: what ``call`` returned (JSON), or None for a failed effect.
        performed_now: True when this invocation made the call.
        error: the recorded error text of a failed effect.
    """

    state: EffectState
    response: dict[str, Any] | None
    performed_now: bool
    error: str | None = None


def _claim(
    db: Database,
    *,
    key: str,
    kind: str,
    run_id: int | None,
    request: dict[str, Any],
    lease_s: float,
    recovery: Recovery | None,
) -> int | EffectResult:
    """The attempt number when this worker holds the claim, else the finished result."""
    request_json = json.dumps(request, default=str)
    with db.transaction() as tx:
        row = tx.one(SQL_CLAIM, key=key, kind=kind, run_id=run_id, request=request_json)
        if row is None:
            row = tx.one(SQL_TAKE_OVER, key=key, request=request_json, lease_s=lease_s)
        if row is not None:
            if recovery is not None:
                # keep_existing (ON CONFLICT DO NOTHING) never waits on a tick that holds the
                # pending timer locked; that tick owns the effect already.
                timers.schedule(
                    tx,
                    owner=recovery.owner,
                    run_id=recovery.run_id,
                    kind=recovery_kind(key),
                    delay_s=recovery.delay_s,
                    payload={"key": key, "event_type": recovery.event_type, "data": recovery.data},
                    keep_existing=True,
                )
            return int(row["attempts"])
        existing = tx.one(SQL_GET, key=key)
    if existing is None:  # deleted between statements; the redelivery will claim it afresh
        raise ConflictError(f"effect {key!r} changed while being claimed", field="key")
    if existing["state"] == "claimed":
        raise ConflictError(
            f"effect {key!r} is in progress in another worker (attempt {existing['attempts']})",
            field="key",
        )
    return EffectResult(
        state=existing["state"],
        response=existing["response"],
        performed_now=False,
        error=existing["error"],
    )


def _record(db: Database, sql: str, **params: Any) -> None:
    """Record a call's outcome (``sql`` is idempotent), once more on a new connection when
    the first attempt fails transiently: the call has happened, and a record lost here repeats
    it after the lease. The pool discards a connection the server closed while it was idle
    (:func:`shared.db.connect.closed_by_server`); this covers one lost silently (a failover
    that sent no ``FIN``) or closed between that check and the statement.

    Raises:
        TransientError: both attempts failed (the recovery timer finishes the effect).
    """
    try:
        with db.transaction() as tx:
            tx.run(sql, **params)
    except TransientError:
        with db.transaction() as tx:
            tx.run(sql, **params)


def perform(
    db: Database,
    *,
    key: str,
    kind: str,
    run_id: int | None,
    request: dict[str, Any],
    call: Callable[[], dict[str, Any]],
    lease_s: float = LEASE_S,
    recovery: Recovery | None = None,
) -> EffectResult:
    """Perform ``call`` at most once for ``key`` and return its recorded outcome.

    Args:
        db: the database (claims use their own transactions, not the caller's).
        key: the idempotency key, e.g. ``discord:<run_id>:<decision>``.
        kind: what the effect is (``discord``, ``merge``, ``rerun`` …), for operators.
        run_id: the run the effect belongs to, or None.
        request: what is sent (stored as evidence; JSON-serialisable).
        call: performs the side effect and returns its response as a JSON object.
        lease_s: how long (seconds) a claim protects an in-flight call.
        recovery: the owner that finishes the effect if this worker dies before its caller
            commits; its timer is armed with the claim (retire it with :func:`settle`).

    Returns:
        The :class:`EffectResult`; ``performed_now`` tells whether ``call`` ran here.

    Raises:
        ConflictError: another worker holds a fresh claim on ``key`` (409, retried later).
        TransientError: ``call`` failed transiently; the claim is released for the retry.
        PermanentError: ``call`` was rejected for good; the effect is marked ``failed``.
    """
    claimed = _claim(
        db,
        key=key,
        kind=kind,
        run_id=run_id,
        request=request,
        lease_s=lease_s,
        recovery=recovery,
    )
    if isinstance(claimed, EffectResult):
        return claimed
    try:
        response = call()
    except PermanentError as exc:
        _record(db, SQL_FAILED, key=key, error=f"{type(exc).__name__}: {exc.message}")
        raise
    except BaseException as exc:
        limited = isinstance(exc, RateLimitedError)
        _record(
            db,
            SQL_RELEASE,
            key=key,
            attempts=claimed,
            failed=int(not limited),
            limited=int(limited),
            error=f"{type(exc).__name__}: {exc}",
        )
        raise
    _record(db, SQL_DONE, key=key, response=json.dumps(response, default=str))
    return EffectResult(state="done", response=response, performed_now=True)
