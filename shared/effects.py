"""The effects outbox: every external side effect happens at most once per idempotency key
(DESIGN §5, "claim a row, perform the call, record the response").

:func:`perform` runs in three steps, each claim/record in its own committed transaction so the
claim is visible to every other worker before the call goes out:

1. **claim** ``runtime.effects(idempotency_key)``: ``INSERT … ON CONFLICT DO NOTHING``. When the
   row exists: ``done`` (or ``failed``) → return it without calling; ``claimed`` less than a
   lease ago → :class:`ConflictError` (409, Knative retries later); ``claimed`` longer ago (a
   worker that crashed mid-call) or released → take it over, ``attempts + 1``;
2. **call** the upstream, outside any transaction;
3. **record**: the response and ``done``; a :class:`TransientError` (or an unexpected error)
   records ``error`` and releases the claim (``claimed_at = -infinity``) so the redelivery
   proceeds at once, then re-raises; a :class:`PermanentError` marks the row ``failed`` and
   re-raises (the event goes to the dead-letter sink).

The pattern follows AWS Powertools' idempotency utility (insert first, INPROGRESS/COMPLETED,
expiry of stale in-progress records). A call that outlives the lease can be repeated by a
second worker; keep upstream timeouts well below the lease.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared.db import Database
from shared.errors import ConflictError, PermanentError

LEASE_S = 60.0

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
   SET error = :error, claimed_at = '-infinity'
 WHERE idempotency_key = :key AND state = 'claimed' AND attempts = :attempts
"""
SQL_FAILED = """
UPDATE runtime.effects
   SET state = 'failed', error = :error, completed_at = now()
 WHERE idempotency_key = :key AND state = 'claimed'
"""


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
) -> int | EffectResult:
    """The attempt number when this worker holds the claim, else the finished result."""
    request_json = json.dumps(request, default=str)
    with db.transaction() as tx:
        row = tx.one(SQL_CLAIM, key=key, kind=kind, run_id=run_id, request=request_json)
        if row is not None:
            return int(row["attempts"])
        row = tx.one(SQL_TAKE_OVER, key=key, request=request_json, lease_s=lease_s)
        if row is not None:
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


def perform(
    db: Database,
    *,
    key: str,
    kind: str,
    run_id: int | None,
    request: dict[str, Any],
    call: Callable[[], dict[str, Any]],
    lease_s: float = LEASE_S,
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

    Returns:
        The :class:`EffectResult`; ``performed_now`` tells whether ``call`` ran here.

    Raises:
        ConflictError: another worker holds a fresh claim on ``key`` (409, retried later).
        TransientError: ``call`` failed transiently; the claim is released for the retry.
        PermanentError: ``call`` was rejected for good; the effect is marked ``failed``.
    """
    claimed = _claim(db, key=key, kind=kind, run_id=run_id, request=request, lease_s=lease_s)
    if isinstance(claimed, EffectResult):
        return claimed
    try:
        response = call()
    except PermanentError as exc:
        with db.transaction() as tx:
            tx.run(SQL_FAILED, key=key, error=f"{type(exc).__name__}: {exc.message}")
        raise
    except BaseException as exc:
        with db.transaction() as tx:
            tx.run(SQL_RELEASE, key=key, attempts=claimed, error=f"{type(exc).__name__}: {exc}")
        raise
    with db.transaction() as tx:
        tx.run(SQL_DONE, key=key, response=json.dumps(response, default=str))
    return EffectResult(state="done", response=response, performed_now=True)
