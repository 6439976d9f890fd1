"""The ci-status use case: the CI verdict of each waiting run, for its exact head SHA
(DESIGN §4 ci-status, §12 items 3-4).

* ``run.completed`` for a run in ``waiting_for_ci``: read every page of check runs and the
  combined commit status of the run's head SHA from GitHub, project them, then decide from the
  projection;
* ``check_run`` / ``check_suite`` / ``status`` / ``workflow_run`` events: project the payload,
  then decide, from the projection, for the active runs waiting at that SHA (a check on another
  SHA — a stale green on the branch's previous head — never reaches a run);
* ``pull_request.synchronize``: a push supersedes the PR's older gated runs
  (:mod:`functions.ci_status.supersede`).

Deciding reads the projection (:func:`shared.gates.ci.ci_verdict`, required checks pinned to
apps, suites still running); a failure that looks infrastructural re-requests its check suite
instead of concluding (:mod:`functions.ci_status.retries`); a success may still be
``stale_base`` under the base-freshness rule (:mod:`functions.ci_status.freshness`). A GitHub
rate limit propagates as ``RateLimitedError`` (429 + ``Retry-After``) and any other API error
as a 503/422: never as "no checks". GitHub answering 404 for the repository or the commit is a
decision, not an error: the run goes ``needs_human`` (``repository_not_found`` /
``commit_not_found``) and ``run.escalated`` is replied (:mod:`shared.waits.escalation`).

A final verdict is written once (compare-and-set on ``ci_verdict IS NULL``), the run moves
``waiting_for_ci`` → ``waiting_for_review``, and the reply is ``ci.concluded`` keyed
``<run_id>:<sha>``; a run already concluded is answered with the same reply, rebuilt from the
database. A pending verdict is a NoReply("waiting").
"""

from __future__ import annotations

from typing import Any

from functions.ci_status import freshness, retries, supersede
from shared.errors import UpstreamNotFoundError
from shared.gates.ci import CiResult, ci_verdict
from shared.github.checks import (
    checks_for_sha,
    project_check_run,
    project_check_suite,
    project_status,
    suites_for_sha,
)
from shared.github.dispatch import webhook_event
from shared.models.events import (
    CI_CONCLUDED,
    RunCompleted,
)
from shared.policy.model import Policy
from shared.policy.resolution import effective_policy
from shared.runs import Run, add_graphql_points, conclude_ci, lock, lock_waiting_for_ci
from shared.runs.event_data import ci_concluded
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits.escalation import escalate_not_found, replay_not_found
from shared.waits.gate import decide_waiting
from shared.waits.reconcile import note_waiting, settle

#: The timer kind of a CI wait's deadline (owner ``ci-status``), armed here, handled by
#: :mod:`functions.ci_status.tick`.
CI_TIMEOUT = "ci_timeout"


def on_run_completed(event: Envelope, ctx: Context) -> Outcome:
    """``run.completed``: read the run's checks from GitHub and decide (:func:`decide_run`)."""
    return decide_run(ctx, event.model(RunCompleted).run_id)


def on_synchronize(event: Envelope, ctx: Context) -> Outcome:
    """``pull_request.synchronize``: a push supersedes the PR's older gated runs."""
    payload = event.json()
    if not isinstance(payload, dict):
        return NoReply("payload is not an object")
    return supersede.on_synchronize(payload, ctx)


def on_check_event(event: Envelope, ctx: Context) -> Outcome:
    """A ``check_run`` / ``check_suite`` / ``status`` / ``workflow_run`` event: project it, then
    decide for the active runs waiting for CI at the SHAs it touched."""
    return _on_check_event(webhook_event(event.type), event.json(), ctx)


def decide_run(ctx: Context, run_id: int) -> Outcome:
    """Re-read run ``run_id``'s checks from GitHub and decide (``run.completed``; the tick's
    reconcile in :mod:`functions.ci_status.tick`). Locks the run."""
    run = lock(ctx.tx, run_id)
    if run is None:
        return NoReply("unknown run", run_id=run_id)
    if run.ci_verdict is not None:
        return reply(run, run.ci_verdict, run.ci_summary or {})
    replayed = replay_not_found(ctx, run)
    if replayed is not None:
        return replayed
    if run.status != "waiting_for_ci":
        return NoReply(f"run is {run.status}, not waiting_for_ci", run_id=run.id)
    if not run.repository or not run.head_sha:
        return NoReply("run has no repository or head SHA", run_id=run.id)
    github = ctx.deps.github()
    repo, sha = run.repository, run.head_sha
    try:
        checks = github.commit_checks(repo, sha)  # one GraphQL read (issue 12)
    except UpstreamNotFoundError as gone:
        return escalate_not_found(ctx, run, gone)
    add_graphql_points(ctx.tx, run.id, checks.points)
    for check_run in checks.check_runs:
        if check_run.head_sha == sha:
            project_check_run(ctx.tx, repo, check_run)
    for status in checks.statuses:
        project_status(ctx.tx, repo, sha, status)
    for suite in checks.suites:
        if suite.head_sha == sha:
            project_check_suite(ctx.tx, repo, suite)
    return _decide(run, ctx)


def _on_check_event(name: str, payload: Any, ctx: Context) -> Outcome:
    return decide_waiting(
        ctx,
        name,
        payload,
        keys=lambda touched: touched.head_shas,
        waiting=lock_waiting_for_ci,
        decide=_decide,
        nobody="no run waiting for CI at this commit",
    )


def _decide(run: Run, ctx: Context) -> Outcome:
    try:
        return _verdict(run, ctx)
    except UpstreamNotFoundError as gone:  # the base-freshness compare: a decision
        return escalate_not_found(ctx, run, gone)


def _verdict(run: Run, ctx: Context) -> Outcome:
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, run.repository)
    repo, sha = run.commit()
    # Suites an app created but never ran (no check runs) stay queued forever; only suites
    # with check runs can still add checks.
    open_suites = [
        s["app_slug"]
        for s in suites_for_sha(ctx.tx, repo, sha)
        if s["status"] != "completed" and (s["check_runs_count"] or 0) > 0
    ]
    result: CiResult = ci_verdict(checks_for_sha(ctx.tx, repo, sha), policy, open_suites)
    retry: retries.RetryDecision | None = None
    if result.verdict == "failure":
        retry = retries.maybe_retry(run, result, policy, ctx)
        if retry.retried:
            _keep_waiting(ctx, run, policy)
            return NoReply(f"re-requested check suites {retry.retried}", run_id=run.id)
    result = freshness.check_base(run, result, policy, ctx)
    if not result.final:
        _keep_waiting(ctx, run, policy)
        return NoReply("waiting", run_id=run.id)
    summary = result.summary()
    if retry is not None and retry.skipped:
        summary["flaky_retry"] = retry.evidence()
    if result.verdict == "stale_base":
        summary["reason"] = "stale_base"
    conclude_ci(ctx.tx, run.id, verdict=result.verdict, summary=summary)
    settle(ctx, run.id)
    return reply(run, result.verdict, summary)


def _keep_waiting(ctx: Context, run: Run, policy: Policy) -> None:
    """Note the run's CI wait as durable timers: its ``ci_timeout`` deadline and a reconcile
    (:func:`shared.waits.reconcile.note_waiting`)."""
    note_waiting(
        ctx,
        run_id=run.id,
        deadline_kind=CI_TIMEOUT,
        deadline_s=policy.ci_timeout_s,
        reconcile_s=policy.reconcile_interval_s,
    )


def reply(run: Run, verdict: str, summary: dict[str, Any]) -> Reply:
    """The ``ci.concluded`` reply for ``run`` (key ``<run_id>:<head SHA>``, whichever path
    concluded it: an event, a reconcile or the deadline)."""
    return Reply(
        CI_CONCLUDED,
        ci_concluded(run, verdict, summary),
        key=f"{run.id}:{run.head_sha}",
        subject=str(run.id),
        run_id=run.id,
    )
