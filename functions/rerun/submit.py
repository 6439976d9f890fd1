"""Submitting one scheduled rerun, at most once, with a bounded number of tries.

The call goes through :func:`shared.effects.outbox.perform` under the submission's delivery id
(``rerun:<run_id>:<attempt>``), so a duplicate tick, a retry or a crash never submits the same
attempt twice. The call itself is idempotent too, for a worker that dies (or loses Postgres)
after the upstream accepted and before the record, whose claim the next try takes over: Facteur
drops a repeated ``delivery_id``, and the Argo workflow is named from the key
(:func:`shared.argo.workflow.workflow_name`), so a repeat answers 409 and the existing workflow
is recorded as the submission (issue 10).

Outcomes (issue 5 "rerun"; DESIGN §12.8 — failed submissions were once retried forever):

* accepted → ``state = 'submitted'``, :class:`RerunSubmitted`;
* ``policy.dry_run`` → ``state = 'dry_run'``: the request is recorded, nothing is sent;
* a transient failure (5xx, timeout, 429) → ``submit_attempts + 1`` and the timer moves
  (exponential, capped at 15 minutes); after ``policy.rerun_submit_max_attempts`` tries, or at
  once for a permanent refusal (4xx), ``state = 'failed'`` and the run goes ``needs_iteration``
  → ``needs_human`` with reason ``submission_failed`` (:class:`RunEscalated`, posted once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from functions.rerun import task as tasks
from shared.argo.workflow import workflow_name
from shared.bootstrap import Container
from shared.db import Tx
from shared.effects import outbox
from shared.errors import ConflictError, PermanentError, RateLimitedError, TransientError
from shared.models.events import RerunSubmitted, RunEscalated
from shared.policy.model import Policy
from shared.runs import escalate
from shared.waits import timers

OWNER = "rerun"
TIMER_KIND = "submit"
SUBMISSION_FAILED = "submission_failed"
MAX_RETRY_DELAY_S = 900.0

SQL_SUBMITTED = """
UPDATE codex_judge.rerun_submissions
   SET state = :state, response = CAST(:response AS jsonb), request = CAST(:request AS jsonb),
       submitted_at = now(), submit_attempts = submit_attempts + :tried, last_error = NULL,
       updated_at = now()
 WHERE id = :id AND state = 'scheduled'
"""
SQL_RETRY = """
UPDATE codex_judge.rerun_submissions
   SET submit_attempts = submit_attempts + 1, last_error = :error, updated_at = now(),
       due_at = now() + make_interval(secs => :delay_s)
 WHERE id = :id AND state = 'scheduled'
RETURNING submit_attempts
"""
SQL_FAILED = """
UPDATE codex_judge.rerun_submissions
   SET state = 'failed', last_error = :error, updated_at = now(),
       submit_attempts = submit_attempts + :tried
 WHERE id = :id AND state = 'scheduled'
"""


@dataclass(frozen=True)
class SubmitOutcome:
    """What became of one try: an event to emit (or None while it waits for a retry)."""

    event: RerunSubmitted | RunEscalated | None
    note: str


def _send(deps: Container, target: str, plan: tasks.RerunPlan, template: str, ns: str) -> Any:
    """The upstream call for ``target``; returns a JSON-able acknowledgement."""
    if target == "facteur":
        return deps.facteur().submit(tasks.codex_task(plan))
    created = deps.argo().submit(
        ns,
        template,
        parameters=tasks.argo_parameters(plan),
        labels=tasks.argo_labels(plan),
        annotations=tasks.argo_annotations(plan),
        name=workflow_name(template, plan.delivery_id),
    )
    return created.model_dump(mode="json")


def _retry_delay(tries: int, exc: TransientError) -> float:
    if isinstance(exc, RateLimitedError):
        return min(MAX_RETRY_DELAY_S, max(1.0, float(exc.retry_after)))
    return min(MAX_RETRY_DELAY_S, 30.0 * float(2 ** max(0, tries - 1)))


def _fail(
    tx: Tx, row: dict[str, Any], plan: tasks.RerunPlan, error: str, tried: int
) -> SubmitOutcome:
    tx.run(SQL_FAILED, id=row["id"], error=error, tried=tried)
    escalate(tx, plan.run_id, reason=SUBMISSION_FAILED, from_statuses=["needs_iteration"])
    return SubmitOutcome(
        RunEscalated(
            run_id=plan.run_id,
            reason=SUBMISSION_FAILED,
            message=f"rerun attempt {plan.attempt} could not be submitted: {error}"[:1000],
            repository=plan.repository,
            issue_number=plan.issue_number,
            attempt=plan.attempt - 1,
        ),
        f"submission failed: {error}",
    )


def submit(
    tx: Tx,
    deps: Container,
    row: dict[str, Any],
    plan: tasks.RerunPlan,
    policy: Policy,
    *,
    template: str,
    namespace: str,
    recovery: outbox.Recovery | None = None,
) -> SubmitOutcome:
    """Try to submit the scheduled rerun ``row`` (a ``rerun_submissions`` row) once.

    Args:
        recovery: who finishes the submission if this worker dies before ``tx`` commits; None
            when a ``submit`` timer (locked in ``tx``) already owns it.

    Raises:
        ConflictError: another worker is submitting the same attempt now (409; retried).
    """
    target = str(row["target"])
    request = {
        "target": target,
        "delivery_id": plan.delivery_id,
        "attempt": plan.attempt,
        "template": template if target == "argo" else None,
        "namespace": namespace if target == "argo" else None,
        "prompt": plan.prompt,
    }
    done = RerunSubmitted(
        run_id=plan.run_id,
        repository=plan.repository,
        issue_number=plan.issue_number,
        attempt=plan.attempt,
        target="argo" if target == "argo" else "facteur",
        delivery_id=plan.delivery_id,
        dry_run=policy.dry_run,
    )
    if policy.dry_run:
        tx.run(
            SQL_SUBMITTED,
            id=row["id"],
            state="dry_run",
            response=None,
            request=json.dumps(request),
            tried=0,
        )
        return SubmitOutcome(done, "dry run: recorded, not submitted")
    tried = int(row["submit_attempts"]) + 1
    try:
        result = outbox.perform(
            deps.db,
            key=plan.delivery_id,
            kind="rerun",
            run_id=plan.run_id,
            request=request,
            call=lambda: {"ack": _send(deps, target, plan, template, namespace)},
            recovery=recovery,
        )
    except ConflictError:
        raise
    except TransientError as exc:
        if tried >= policy.rerun_submit_max_attempts:
            return _fail(tx, row, plan, f"{type(exc).__name__}: {exc.message}", 1)
        delay = _retry_delay(tried, exc)
        tx.run(SQL_RETRY, id=row["id"], error=f"{type(exc).__name__}: {exc.message}", delay_s=delay)
        timers.schedule(tx, owner=OWNER, run_id=plan.run_id, kind=TIMER_KIND, delay_s=delay)
        return SubmitOutcome(None, f"try {tried} failed transiently; retry in {delay:.0f}s")
    except PermanentError as exc:
        return _fail(tx, row, plan, f"{type(exc).__name__}: {exc.message}", 1)
    outbox.settle(tx, plan.delivery_id, recovery)
    if result.state == "failed":
        return _fail(tx, row, plan, result.error or "refused earlier", 0)
    ack = (result.response or {}).get("ack")
    workflow = ack.get("name") if isinstance(ack, dict) and target == "argo" else None
    tx.run(
        SQL_SUBMITTED,
        id=row["id"],
        state="submitted",
        response=json.dumps(ack),
        request=json.dumps(request),
        tried=1 if result.performed_now else 0,
    )
    return SubmitOutcome(done.model_copy(update={"workflow_name": workflow}), "submitted")
