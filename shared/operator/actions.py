"""The operator actions, one code path for the api function and the command line (issue 14).

Each action is one request with an idempotency key and an actor:

* **approve** a ``needs_human`` run that has a sealed evaluation and a PR: compare-and-set
  ``needs_human`` → ``merging`` (decision ``pass``, reason ``operator_approved``), then publish
  ``io.codexjudge.judge.decided.v1`` with ``decision = pass`` so merge takes it on exactly as it
  takes a judge's pass — re-reading the PR and refusing to merge when it drifted from the
  sealed record. Refused for the reasons in :data:`NOT_APPROVABLE` (a PR that is gone, closed,
  merged elsewhere, off the write allow-list, or a run without its metadata or cancelled):
  approving those could only fail again;
* **rerun**: compare-and-set ``needs_human`` → ``needs_iteration`` (reason ``operator_rerun``),
  then publish ``judge.decided`` with ``decision = needs_iteration`` and the operator's prompt
  (else the sealed next prompt): the rerun function plans it under the same attempt cap and
  backoff as any rerun. A ``needs_iteration`` run whose rerun was never planned (its
  ``judge.decided`` was dead-lettered, or the rerun function was down) can be rerun the same
  way: the compare-and-set ``needs_iteration`` → ``needs_iteration`` (reason ``operator_rerun``)
  guards it, and a run that already has a ``codex_judge.rerun_submissions`` row is refused (409:
  the rerun function plans one rerun per run, so a second decision would change nothing);
* **cancel**: compare-and-set from a status where nothing external is under way
  (:data:`CANCELLABLE`) to ``superseded`` with reason ``cancelled_by_operator``; the run's
  timers are retired. Runs in ``merging``/``deploying``/``verifying`` are refused: a write may
  be in flight;
* **replay** a dead letter: POST the stored event, without Knative's error extensions, to the
  Broker again; ``replayed_at`` is set. Consumers that had processed it answer from their inbox.

Exactly once: the key is claimed in ``codex_judge.operator_actions`` in the transaction of the
compare-and-set (:mod:`shared.operator.audit`); the publish goes through the effects outbox
(:func:`shared.effects.outbox.perform`, key ``operator:<action id>``) after that commit, so the
run has moved before any consumer sees the event. A duplicate request is answered with the
recorded result; one that finds no result yet (the first publish failed: 503) publishes the
stored event, at most once.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from shared.db import Database, Tx
from shared.effects import outbox
from shared.errors import ConflictError, InvalidDataError
from shared.models.events import JUDGE_DECIDED, Reason
from shared.operator import audit, sink
from shared.operator.model import Action, ActionResult, Outcome
from shared.runs import Run, RunStatus, get_run, transition
from shared.runs.event_data import judge_decided_as
from shared.runtime import dead_letters
from shared.runtime.envelope import OutgoingEvent
from shared.settings import Settings
from shared.waits import timers

OPERATOR_APPROVED = "operator_approved"
OPERATOR_RERUN = "operator_rerun"
CANCELLED_BY_OPERATOR = "cancelled_by_operator"
#: needs_human reasons an approval cannot cure (the merge would only be refused again).
NOT_APPROVABLE = frozenset(
    {
        "pull_request_not_found",
        "repository_not_found",
        "commit_not_found",
        "pr_closed",
        "merged_elsewhere",
        "repository_not_allowed",
        "missing_pull_request",
        "missing_run_metadata",
        CANCELLED_BY_OPERATOR,
    }
)
#: Statuses a run may be cancelled from: nothing external is in flight.
CANCELLABLE: tuple[RunStatus, ...] = (
    "notified",
    "run_complete",
    "waiting_for_ci",
    "waiting_for_review",
    "judging",
    "needs_iteration",
    "needs_human",
)
SQL_EVALUATION = """
SELECT id, judge_kind, next_prompt FROM codex_judge.evaluations
WHERE run_id = :run_id AND stage = 'final'
"""
SQL_DEAD_LETTER = "SELECT * FROM runtime.dead_letters WHERE id = :id"
SQL_RERUN_PLANNED = """
SELECT attempt, state FROM codex_judge.rerun_submissions WHERE run_id = :run_id
"""
#: Statuses each of approve and rerun starts from.
JUDGED_AGAIN_FROM: dict[str, tuple[RunStatus, ...]] = {
    "approve": ("needs_human",),
    "rerun": ("needs_human", "needs_iteration"),
}
SQL_TIMER_OWNERS = """
SELECT DISTINCT owner FROM runtime.timers WHERE run_id = :run_id AND done_at IS NULL
"""


@dataclass(frozen=True)
class ActionRequest:
    """One operator request.

    Attributes:
        action: approve, rerun, cancel or replay.
        target: the run id (approve, rerun, cancel) or the dead letter id (replay).
        actor: who asks (the token's name, ``cli:<user>``); recorded.
        key: the idempotency key (the ``Idempotency-Key`` header); one action per key.
        body: the validated request body (``comment``, ``prompt``).
    """

    action: Action
    target: int
    actor: str
    key: str
    body: dict[str, Any]


@dataclass(frozen=True)
class _Plan:
    """The state change is committed; ``request`` remains to be posted to the Broker."""

    result: ActionResult
    request: sink.SinkRequest


def act(db: Database, settings: Settings, request: ActionRequest) -> ActionResult:
    """Perform ``request`` once (see the module docstring).

    Raises:
        InvalidDataError: the idempotency key was used before for another action or target
            (``field`` = ``Idempotency-Key``).
        UpstreamError: the Broker could not take the event (503); the state change stays
            committed and a retry with the same key publishes it.
    """
    with db.transaction() as tx:
        found = _target_exists(tx, request)
        if not found:
            kind = "dead letter" if request.action == "replay" else "run"
            return _result(request, None, "not_found", 404, f"no {kind} with id {request.target}")
        action_id, existing = audit.claim(
            tx,
            key=request.key,
            action=request.action,
            actor=request.actor,
            request={**request.body, "target": request.target},
            **_target_columns(request),
        )
        if existing is not None:
            return _duplicate(db, settings, request, existing)
        decided = _decide(tx, settings, request, action_id)
        if isinstance(decided, ActionResult):
            audit.record(tx, decided)
            return decided
        audit.plan(
            tx,
            action_id,
            publish=decided.request.model_dump(),
            result=decided.result.model_dump(),
        )
    return _publish(db, settings, decided)


def _target_exists(tx: Tx, request: ActionRequest) -> bool:
    if request.action == "replay":
        return tx.one(SQL_DEAD_LETTER, id=request.target) is not None
    return get_run(tx, request.target) is not None


def _target_columns(request: ActionRequest) -> dict[str, int]:
    if request.action == "replay":
        return {"dead_letter_id": request.target}
    return {"run_id": request.target}


def _result(
    request: ActionRequest,
    action_id: int | None,
    outcome: Outcome,
    status_code: int,
    message: str,
    **extra: Any,
) -> ActionResult:
    target = _target_columns(request)
    return ActionResult(
        action_id=action_id,
        action=request.action,
        outcome=outcome,
        status_code=status_code,
        message=message,
        actor=request.actor,
        **target,
        **extra,
    )


def _duplicate(
    db: Database, settings: Settings, request: ActionRequest, row: dict[str, Any]
) -> ActionResult:
    same = row["action"] == request.action and (row["request"] or {}).get("target") == (
        request.target
    )
    if not same:
        raise InvalidDataError(
            f"Idempotency-Key {request.key!r} was used for {row['action']} of "
            f"{(row['request'] or {}).get('target')}; use a new key for a new request",
            field="Idempotency-Key",
        )
    if row["response"] is not None:
        return ActionResult.model_validate({**row["response"], "duplicate": True})
    plan = row["request"] or {}
    pending = _Plan(
        result=ActionResult.model_validate(plan["result"]),
        request=sink.SinkRequest.model_validate(plan["publish"]),
    )
    return _publish(db, settings, pending).model_copy(update={"duplicate": True})


#: How long a request waits for a concurrent request with the same key that is publishing the
#: same action right now (its outbox claim), seconds; past it the answer is 409.
_CONCURRENT_WAIT_S = 5.0


def _publish(db: Database, settings: Settings, plan: _Plan) -> ActionResult:
    """Publish the planned event once (the effects outbox) and record the result.

    A duplicate request may reach the outbox first and be publishing it: this request then
    waits for that publish (at most :data:`_CONCURRENT_WAIT_S`) and answers like it, rather
    than a 409 to the request that made the change.
    """
    result = plan.result
    deadline = time.monotonic() + _CONCURRENT_WAIT_S
    while True:
        try:
            outbox.perform(
                db,
                key=f"operator:{result.action_id}",
                kind=f"operator_{result.action}",
                run_id=result.run_id,
                request={"headers": plan.request.headers, "actor": result.actor},
                call=lambda: sink.post(settings.k_sink, plan.request),
            )
            break
        except ConflictError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
    with db.transaction() as tx:
        if result.action == "replay":
            dead_letters.mark_replayed(tx, int(result.dead_letter_id or 0))
        audit.record(tx, result)
    return result


def _decide(
    tx: Tx, settings: Settings, request: ActionRequest, action_id: int
) -> ActionResult | _Plan:
    if request.action == "replay":
        return _replay(tx, settings, request, action_id)
    run = get_run(tx, request.target)
    assert run is not None  # checked in the same transaction
    if request.action == "cancel":
        return _cancel(tx, request, action_id, run)
    return _judge_again(tx, settings, request, action_id, run)


def _refused(request: ActionRequest, action_id: int, run: Run, why: str) -> ActionResult:
    return _result(request, action_id, "refused", 409, why, run_status=run.status)


def _cancel(tx: Tx, request: ActionRequest, action_id: int, run: Run) -> ActionResult:
    moved = transition(
        tx,
        run.id,
        from_statuses=CANCELLABLE,
        to_status="superseded",
        reason=CANCELLED_BY_OPERATOR,
    )
    if not moved:
        return _refused(
            request,
            action_id,
            run,
            f"run {run.id} is {run.status}; a run can be cancelled only while "
            f"{', '.join(CANCELLABLE)} (nothing external in flight)",
        )
    for row in tx.all(SQL_TIMER_OWNERS, run_id=run.id):
        timers.cancel_run(tx, owner=row["owner"], run_id=run.id)
    return _result(
        request,
        action_id,
        "cancelled",
        200,
        f"run {run.id} cancelled by {request.actor}",
        run_status="superseded",
    )


def _judge_again(
    tx: Tx, settings: Settings, request: ActionRequest, action_id: int, run: Run
) -> ActionResult | _Plan:
    """approve (a needs_human run) or rerun (a needs_human run, or a needs_iteration run with
    no rerun planned) with a sealed evaluation: the operator's decision as a judge.decided
    event."""
    verb = request.action
    allowed = JUDGED_AGAIN_FROM[verb]
    if run.status not in allowed:
        return _refused(
            request,
            action_id,
            run,
            f"run {run.id} is {run.status}; only a {' or '.join(allowed)} run can get {verb}",
        )
    evaluation = tx.one(SQL_EVALUATION, run_id=run.id)
    if evaluation is None:
        return _refused(request, action_id, run, f"run {run.id} has no sealed evaluation to {verb}")
    planned = tx.one(SQL_RERUN_PLANNED, run_id=run.id) if verb == "rerun" else None
    if planned is not None:
        return _refused(
            request,
            action_id,
            run,
            f"run {run.id} already has its rerun planned (attempt {planned['attempt']},"
            f" {planned['state']})",
        )
    if verb == "approve":
        if run.reason in NOT_APPROVABLE:
            return _refused(
                request,
                action_id,
                run,
                f"run {run.id} is needs_human for {run.reason}, which approval cannot"
                " cure (the merge would be refused again)",
            )
        if not (run.pr_number and run.head_sha):
            return _refused(request, action_id, run, f"run {run.id} names no PR or head SHA")
        decision, reason, prompt = "pass", OPERATOR_APPROVED, None
        to_status: RunStatus = "merging"
    else:
        decision, reason, to_status = "needs_iteration", OPERATOR_RERUN, "needs_iteration"
        prompt = request.body.get("prompt") or evaluation["next_prompt"] or ""
    moved = transition(
        tx,
        run.id,
        from_statuses=[run.status],
        to_status=to_status,
        reason=reason,
        decision=decision,
    )
    if not moved:  # moved by someone else since it was read
        return _refused(request, action_id, run, f"run {run.id} changed; try again")
    comment = request.body.get("comment")
    message = f"{verb} by {request.actor}" + (f": {comment}" if comment else "")
    data = judge_decided_as(
        run,
        evaluation,
        decision=decision,
        reasons=[Reason(code=reason, message=message)],
        next_prompt=prompt,
    )
    event = OutgoingEvent(
        type=JUDGE_DECIDED,
        source=f"{settings.event_source.rstrip('/')}/api",
        id=_event_id(action_id),
        data=data.model_dump(mode="json"),
        subject=str(run.id),
        extensions={"decision": decision},
    )
    outcome: Outcome = "approved" if verb == "approve" else "rerun_requested"
    result = _result(
        request, action_id, outcome, 200, message, run_status=to_status, event_id=event.id
    )
    return _Plan(result=result, request=sink.event_request(event))


def _replay(tx: Tx, settings: Settings, request: ActionRequest, action_id: int) -> _Plan:
    row = tx.one(SQL_DEAD_LETTER, id=request.target)
    assert row is not None
    data = bytes(row["data"]) if row["data"] is not None else None
    result = _result(
        request,
        action_id,
        "replayed",
        200,
        f"{row['event_type']} {row['event_id']} (failed at {row['subscriber']}) posted to the"
        f" Broker again by {request.actor}",
        event_id=row["event_id"],
    )
    return _Plan(result=result, request=sink.replay_request(row["attributes"] or {}, data))


def _event_id(action_id: int) -> str:
    return hashlib.sha256(f"operator\0{action_id}".encode()).hexdigest()[:32]
