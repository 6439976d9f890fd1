"""The review-gate use case: the AI-review verdict at each waiting run's head SHA
(DESIGN §4 review-gate, §12 item 5; rules in :mod:`shared.gates.review`).

Triggered by ``run.completed`` and by pull request, review, review thread and comment events.
The event is projected first; then, for every active run of the PR still without a review
verdict, every page of reviews (REST) and review threads (GraphQL) is read from GitHub — a
thread's resolution carries no timestamp in webhooks, so the current GraphQL snapshot is the
only order-safe truth — projected, and judged. A final verdict is written once
(compare-and-set on ``review_verdict IS NULL``) and replied as ``review.concluded``; a run
already concluded is answered with the same reply, rebuilt from the database. No AI review at
the head yet → NoReply("waiting"), and the wait is noted as durable timers (a
``review_timeout`` deadline and a ``reconcile``; :mod:`shared.waits.reconcile`) that the scheduler's
``timers.due`` wake-up handles in :mod:`functions.review_gate.tick`. GitHub answering 404 for
the PR or its repository is a decision, not a failure: the run goes ``needs_human``
(``pull_request_not_found`` / ``repository_not_found``) and ``run.escalated`` is replied
(:mod:`shared.waits.escalation`).
"""

from __future__ import annotations

from typing import Any

from shared.errors import UpstreamNotFoundError
from shared.gates.review import ReviewResult, review_verdict
from shared.github.dispatch import webhook_event
from shared.github.reviews import project_review, snapshot_threads
from shared.models.events import (
    REVIEW_CONCLUDED,
    RunCompleted,
)
from shared.policy.model import Policy
from shared.policy.resolution import effective_policy
from shared.runs import Run, add_graphql_points, conclude_review, lock, lock_waiting_for_review
from shared.runs.event_data import review_concluded
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits.escalation import escalate_not_found, replay_not_found
from shared.waits.gate import decide_waiting
from shared.waits.reconcile import note_waiting, settle

#: The timer kind of a review wait's deadline (owner ``review-gate``), armed here, handled by
#: :mod:`functions.review_gate.tick`.
REVIEW_TIMEOUT = "review_timeout"
_WAITING = ("run_complete", "waiting_for_ci", "waiting_for_review")


def on_run_completed(event: Envelope, ctx: Context) -> Outcome:
    """``run.completed``: read the run's reviews and threads from GitHub and decide."""
    return decide_run(ctx, event.model(RunCompleted).run_id)


def on_github_event(event: Envelope, ctx: Context) -> Outcome:
    """A pull request, review, review thread, review comment or issue comment event: project
    it, then decide for every active run of the PRs it touched."""
    return _on_github_event(webhook_event(event.type), event.json(), ctx)


def decide_run(ctx: Context, run_id: int) -> Outcome:
    """Re-read the reviews and threads of run ``run_id`` from GitHub and decide (locks the run).

    Returns:
        The ``review.concluded`` reply (rebuilt from the database when the run concluded
        before), the ``run.escalated`` reply when GitHub does not know the PR (also rebuilt),
        or a NoReply saying why there is nothing to say (unknown run, not waiting, no pull
        request, still waiting).
    """
    run = lock(ctx.tx, run_id)
    if run is None:
        return NoReply("unknown run", run_id=run_id)
    if run.review_verdict is not None:
        return _reply(run, run.review_summary or {})
    replayed = replay_not_found(ctx, run)
    if replayed is not None:
        return replayed
    if not run.active or run.status not in _WAITING:
        return NoReply(f"run is {run.status}", run_id=run.id)
    if not run.repository or not run.pr_number or not run.head_sha:
        return NoReply("run has no pull request or head SHA", run_id=run.id)
    return _decide(run, ctx)


def _on_github_event(name: str, payload: Any, ctx: Context) -> Outcome:
    return decide_waiting(
        ctx,
        name,
        payload,
        keys=lambda touched: touched.pr_numbers,
        waiting=lock_waiting_for_review,
        decide=_decide,
        nobody="no run waiting for review on this pull request",
    )


def evaluate(ctx: Context, run: Run) -> tuple[ReviewResult, Policy]:
    """Read every review and review thread of the run's PR from GitHub, project them and
    compute the verdict at the run's head SHA under the repository's policy."""
    repo, number, sha = run.pull_target()
    github = ctx.deps.github()
    read = github.pull_reviews(repo, number)  # one GraphQL read (issue 12)
    reviews, threads = read.reviews, read.threads
    add_graphql_points(ctx.tx, run.id, read.points)
    for review in reviews:
        project_review(ctx.tx, repo, number, review)
    snapshot_threads(ctx.tx, repo, number, threads)
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, repo)
    return review_verdict(reviews, threads, sha, policy), policy


def is_waiting(run: Run) -> bool:
    """Whether the run still waits for a review verdict this gate can give."""
    return (
        run.review_verdict is None
        and run.active
        and run.status in _WAITING
        and run.names_pull_request
    )


def _decide(run: Run, ctx: Context) -> Outcome:
    try:
        result, policy = evaluate(ctx, run)
    except UpstreamNotFoundError as gone:
        return escalate_not_found(ctx, run, gone)
    if not result.final:
        note_waiting(
            ctx,
            run_id=run.id,
            deadline_kind=REVIEW_TIMEOUT,
            deadline_s=policy.review_timeout_s,
            reconcile_s=policy.reconcile_interval_s,
        )
        return NoReply("waiting for " + ", ".join(result.waiting_for), run_id=run.id)
    return conclude(ctx, run, result.summary())


def conclude(ctx: Context, run: Run, summary: dict[str, Any]) -> Reply:
    """Write the final verdict once (compare-and-set), retire the run's timers, build the reply
    (from ``summary``: a :meth:`ReviewResult.summary` or a timed-out summary)."""
    conclude_review(ctx.tx, run.id, verdict=summary["verdict"], summary=summary)
    settle(ctx, run.id)
    return _reply(run, summary)


def _reply(run: Run, summary: dict[str, Any]) -> Reply:
    return Reply(
        REVIEW_CONCLUDED,
        review_concluded(run, summary),
        key=f"{run.id}:{run.head_sha}",
        subject=str(run.id),
        run_id=run.id,
    )
