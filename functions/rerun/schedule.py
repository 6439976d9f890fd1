"""Planning a rerun when the judge says ``needs_iteration`` (issue 5 "rerun", DESIGN §4).

For a run in ``needs_iteration``:

1. an improvement run (label ``codex-judge.io/improvement: "true"``) is never rerun — improvement
   runs never trigger more improvement runs (DESIGN §12.8): it goes ``needs_human`` with reason
   ``improvement_not_rerun``;
2. the next attempt number is taken under a transaction-scoped advisory lock per
   (repository, issue) as ``max(run attempts, submitted attempts) + 1``, and claimed by the
   unique constraints of ``codex_judge.rerun_submissions`` (one per run, one per attempt,
   one per delivery id) — a duplicate or concurrent decision never yields a second attempt;
3. past ``policy.max_attempts`` the run goes ``needs_human`` with reason ``attempts_exhausted``;
4. otherwise the submission waits ``policy.backoff_s[n-1]`` seconds (the last entry repeats)
   as a durable timer (owner ``rerun``), handled when the scheduler's
   ``timers.due`` wakes rerun — never in memory.
"""

from __future__ import annotations

from typing import Any

from functions.rerun import task as tasks
from shared.db import Tx
from shared.errors import ConflictError
from shared.models.events import RunEscalated
from shared.policy.model import Policy
from shared.runs import Run, max_attempt
from shared.runs import escalate as escalate_run
from shared.runs.event_data import run_escalated
from shared.waits import timers

ATTEMPTS_EXHAUSTED = "attempts_exhausted"
IMPROVEMENT_NOT_RERUN = "improvement_not_rerun"

SQL_LOCK_ISSUE = "SELECT pg_advisory_xact_lock(hashtext('rerun'), hashtext(:key))"
SQL_SUBMISSION_FOR_RUN = "SELECT * FROM codex_judge.rerun_submissions WHERE run_id = :run_id"
SQL_MAX_SUBMITTED = """
SELECT max(attempt) AS attempt FROM codex_judge.rerun_submissions
 WHERE repository = :repository AND issue_number = :issue
"""
SQL_INSERT = """
INSERT INTO codex_judge.rerun_submissions
    (run_id, repository, issue_number, attempt, delivery_id, target, next_prompt, due_at)
VALUES (:run_id, :repository, :issue, :attempt, :delivery_id, :target, :prompt,
        now() + make_interval(secs => :delay_s))
ON CONFLICT DO NOTHING
RETURNING *
"""


def backoff_delay(policy: Policy, attempt: int) -> float:
    """Seconds to wait before submitting ``attempt`` (>= 2): ``backoff_s[attempt - 2]``, the
    last entry repeating; 0 when the list is empty."""
    if not policy.backoff_s:
        return 0.0
    return float(policy.backoff_s[min(attempt - 2, len(policy.backoff_s) - 1)])


def escalate(tx: Tx, run: Run, reason: str, message: str) -> RunEscalated | None:
    """Move ``run`` ``needs_iteration`` → ``needs_human`` with ``reason``; the event to emit,
    or None when the run had already moved otherwise (a duplicate)."""
    escalated = escalate_run(tx, run.id, reason=reason, from_statuses=["needs_iteration"])
    if escalated is None:
        return None
    return run_escalated(escalated, reason=reason, message=message)


def _highest_attempt(tx: Tx, repository: str, issue: int) -> int | None:
    """The highest attempt of the issue among its runs and its submitted reruns (None: none)."""
    row = tx.one(SQL_MAX_SUBMITTED, repository=repository, issue=issue)
    known = [max_attempt(tx, repository, issue), row["attempt"] if row else None]
    return max((int(a) for a in known if a is not None), default=None)


def plan(
    tx: Tx, run: Run, policy: Policy, next_prompt: str | None
) -> RunEscalated | dict[str, Any] | str:
    """Schedule the rerun of ``run``.

    Returns:
        A :class:`RunEscalated` to emit; the new (or existing) ``rerun_submissions`` row; or a
        note saying why nothing was done.

    Raises:
        ConflictError: another run of the same issue took the attempt number in between
            (409: the redelivery computes the next one).
    """
    existing = tx.one(SQL_SUBMISSION_FOR_RUN, run_id=run.id)
    if existing is not None:
        return existing
    if run.status != "needs_iteration":
        return f"run is {run.status}; nothing to rerun"
    if tasks.is_improvement_run(run.labels):
        event = escalate(
            tx, run, IMPROVEMENT_NOT_RERUN, "improvement runs are never rerun automatically"
        )
        return event or "improvement run already escalated"
    repository, issue = run.repository, run.issue_number
    if not repository or issue is None:
        return "run has no repository or issue; nothing to rerun"
    tx.one(SQL_LOCK_ISSUE, key=f"{repository}#{issue}")
    attempt = _highest_attempt(tx, repository, issue) or run.attempt or 1
    attempt += 1
    if attempt > policy.max_attempts:
        event = escalate(
            tx,
            run,
            ATTEMPTS_EXHAUSTED,
            f"attempt {attempt - 1} of {policy.max_attempts} needs iteration; no attempts left",
        )
        return event or "already escalated"
    delay = backoff_delay(policy, attempt)
    created = tx.one(
        SQL_INSERT,
        run_id=run.id,
        repository=repository,
        issue=issue,
        attempt=attempt,
        delivery_id=tasks.delivery_id(run.id, attempt),
        target=policy.rerun_target,
        prompt=next_prompt,
        delay_s=delay,
    )
    if created is None:
        raise ConflictError(
            f"attempt {attempt} of {repository}#{issue} was taken concurrently", field="attempt"
        )
    timers.schedule(
        tx,
        owner="rerun",
        run_id=run.id,
        kind="submit",
        delay_s=delay,
        payload={"submission_id": created["id"], "attempt": attempt},
        keep_existing=True,
    )
    return created
