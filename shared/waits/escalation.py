"""Escalations outside the judge: a run goes ``needs_human`` with a reason, the escalating
function's timers for it are retired, and ``io.codexjudge.run.escalated.v1`` is replied so
Discord tells a person (DESIGN §1 "needs_human", §6: a domain "not found" is a decision).

Reasons named here:

* ``pull_request_not_found``, ``repository_not_found``, ``commit_not_found`` — GitHub answered
  404/410 for what the run names (:class:`~shared.errors.UpstreamNotFoundError`, mapped in the
  GitHub adapter): the PR was deleted, the repository renamed, deleted or made private, or the
  app lost access. The gates (ci-status, review-gate) escalate; the judge seals the same reason
  as a ``needs_human`` decision;
* ``timer_failed`` — a durable timer's handler failed
  :data:`shared.waits.failures.MAX_TIMER_ATTEMPTS` times in a row
  (:func:`shared.waits.reconcile.run_tick`).

The run moves through :func:`shared.runs.moves.escalate` (compare-and-set on ``active``); a repeat —
a duplicate event, a tick after the Broker refused the first publish — answers the same reply
with the same id, rebuilt from the run alone.
"""

from __future__ import annotations

from shared.errors import UpstreamNotFoundError
from shared.models.events import RUN_ESCALATED
from shared.runs.event_data import run_escalated
from shared.runs.model import Run
from shared.runs.moves import escalate as escalate_run
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits import timers

PULL_REQUEST_NOT_FOUND = "pull_request_not_found"
REPOSITORY_NOT_FOUND = "repository_not_found"
COMMIT_NOT_FOUND = "commit_not_found"
#: ``needs_human`` reasons of an upstream "not found" (:attr:`UpstreamNotFoundError.reason`).
INSTALLATION_NOT_FOUND = "installation_not_found"
NOT_FOUND_REASONS = frozenset(
    {PULL_REQUEST_NOT_FOUND, REPOSITORY_NOT_FOUND, COMMIT_NOT_FOUND, INSTALLATION_NOT_FOUND}
)
#: ``needs_human`` reason of a run whose timer kept failing.
TIMER_FAILED = "timer_failed"


def escalate(ctx: Context, run_id: int, *, reason: str, message: str) -> Outcome:
    """Move run ``run_id`` to ``needs_human`` with ``reason`` (any active status; in the
    caller's transaction), retire ``ctx.consumer``'s timers for it and reply
    ``run.escalated`` (key ``escalated:<run_id>:<reason>``, so a repeat has the same id).

    Returns:
        The ``run.escalated`` reply — also for a run already escalated for this reason (a
        duplicate answers the same) — or a NoReply when the run ended otherwise.
    """
    run = escalate_run(ctx.tx, run_id, reason=reason)
    timers.cancel_run(ctx.tx, owner=ctx.consumer, run_id=run_id)
    if run is None:
        return NoReply(f"run already ended; not escalated ({reason})", run_id=run_id)
    return escalated_reply(run, reason=reason, message=message)


def escalated_reply(run: Run, *, reason: str, message: str) -> Reply:
    """The ``run.escalated`` reply for ``run`` gone ``needs_human`` for ``reason``; its key
    ``escalated:<run_id>:<reason>`` gives a repeat the same id."""
    data = run_escalated(run, reason=reason, message=message)
    return Reply(
        RUN_ESCALATED, data, key=f"escalated:{run.id}:{reason}", subject=str(run.id), run_id=run.id
    )


def escalate_not_found(ctx: Context, run: Run, gone: UpstreamNotFoundError) -> Outcome:
    """Record an upstream "not found" for ``run`` as a decision: :func:`escalate` with
    ``gone.reason``."""
    ctx.log.warning(
        "upstream not found: run escalated",
        extra={"run_id": run.id, "reason": gone.reason, "error": gone.message},
    )
    return escalate(ctx, run.id, reason=gone.reason, message=not_found_message(gone.reason, run))


def replay_not_found(ctx: Context, run: Run) -> Outcome | None:
    """The ``run.escalated`` reply again when ``run`` was escalated for an upstream "not
    found" (a duplicate event, or a tick after the Broker refused the first publish); None for
    any other run."""
    if run.status != "needs_human" or run.reason not in NOT_FOUND_REASONS:
        return None
    reason = str(run.reason)
    return escalate(ctx, run.id, reason=reason, message=not_found_message(reason, run))


def not_found_message(reason: str, run: Run) -> str:
    """The operator's sentence for a ``*_not_found`` reason (built from the run alone, so a
    repeated reply carries the same data)."""
    repo = run.repository
    cause = "deleted, or the repository was renamed, made private or the app lost access"
    if reason == PULL_REQUEST_NOT_FOUND:
        return f"GitHub does not know pull request {repo}#{run.pr_number} ({cause})"
    if reason == COMMIT_NOT_FOUND:
        return f"GitHub does not know commit {run.head_sha} of {repo} ({cause})"
    return (
        f"GitHub does not know repository {repo} (renamed, deleted, made private or the app"
        " lost access)"
    )
