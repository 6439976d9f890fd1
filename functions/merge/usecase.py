"""The merge use case: merge a passed pull request at the judged head SHA, exactly once
(issue 5 "merge"; DESIGN §4 merge, §5, §11, §12.7).

On ``io.codexjudge.judge.decided.v1`` with decision ``pass`` for a run in ``merging``:

1. re-read the PR; gone → ``needs_human`` ``pull_request_not_found``
   (:func:`shared.waits.escalation.escalate`); already merged at the judged SHA →
   success; merged at another SHA or closed → ``needs_human`` ``merged_elsewhere`` /
   ``pr_closed``;
2. compare with the sealed decision (:mod:`functions.merge.drift`); any blocking drift →
   ``needs_human`` ``drift_after_judging`` (escalated with the drift), never merge;
3. merge through :func:`shared.effects.writes.github_write` under ``merge:<repo>#<pr>@<sha>`` with
   ``sha`` = the judged head SHA and the policy's ``merge_method``. ``dry_run`` records the
   would-be merge (run ``completed``, reason ``dry_run``); a repository off the allow-list →
   ``needs_human`` ``repository_not_allowed``. GitHub's answers are decisions: 200 → merged;
   409 (head moved) → drift, as in step 2; 405 → re-read (merged at the judged SHA is
   success), else ``needs_human`` ``not_mergeable``; any other 4xx → ``needs_human``
   ``merge_rejected``;
4. on success delete the head branch when the policy says so (its own effect key), move the
   run to ``deploying`` (``deploy_mode`` ≠ none) or ``completed`` (reason ``merged``) and reply
   ``io.codexjudge.pr.merged.v1`` with the merge commit SHA.

A run lock (advisory, per run) makes a concurrent delivery answer 409; a later duplicate finds
the run past ``merging`` and answers the same reply, rebuilt from ``github.write_actions``.
Escalations to ``needs_human`` reply ``io.codexjudge.run.escalated.v1``.

merge is a timer owner (issue 10): each write's claim arms a recovery timer (owner ``merge``,
:class:`shared.effects.outbox.Recovery`) with the decision, retired with the record. A worker killed
before the ``PUT``, or whose record was lost after GitHub answered, leaves the run in
``merging`` with that timer; the scheduler's ``io.codexjudge.timers.due.v1`` (``timerowner =
merge``) handles the decision again (:func:`tick`): the PR is re-read first, so a merge GitHub
already made is recorded as ``already_merged`` without a second ``PUT`` (a repeated ``PUT``
would answer 405, handled the same way), and the reply is published to ``K_SINK``.
"""

from __future__ import annotations

from functions.merge.drift import drift_since_judging
from shared.effects import outbox, recovery
from shared.effects.writes import DRY_RUN, REPOSITORY_NOT_ALLOWED, github_write, record_write
from shared.errors import ConflictError
from shared.github.pulls import project_pull
from shared.models.events import (
    JUDGE_DECIDED,
    PR_MERGED,
    JudgeDecided,
)
from shared.policy.model import Policy
from shared.policy.resolution import effective_policy
from shared.ports import WriteAnswer
from shared.runs import Run, RunStatus, add_graphql_points, get_run, transition
from shared.runs import escalate as escalate_run
from shared.runs.event_data import pr_merged
from shared.runtime.envelope import Envelope
from shared.runtime.inbox import reply_event
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits import timers
from shared.waits.escalation import (
    PULL_REQUEST_NOT_FOUND,
    escalate,
    escalated_reply,
    not_found_message,
)

#: The timer owner (the Knative Service name): recovery timers of merges whose worker died.
OWNER = "merge"
DRIFT_AFTER_JUDGING = "drift_after_judging"
MERGED_OUTCOMES = ("merged", "already_merged", DRY_RUN)

SQL_LOCK_RUN = "SELECT pg_try_advisory_xact_lock(hashtext('merge'), CAST(:run_id AS integer)) AS ok"
SQL_MERGE_RECORD = """
SELECT outcome, request, response FROM github.write_actions
 WHERE idempotency_key = :key AND outcome = ANY(:outcomes)
"""


def merge_key(repository: str, pr_number: int, sha: str) -> str:
    """The merge's idempotency key: ``merge:<owner/name>#<pr>@<head sha>``."""
    return f"merge:{repository}#{pr_number}@{sha}"


def classify_merge(answer: WriteAnswer) -> str:
    """GitHub's answer to ``PUT …/merge`` as an outcome (REST "Merge a pull request")."""
    if answer.ok and answer.body.get("merged") is not False:
        return "merged"
    return {405: "not_mergeable", 409: "head_moved"}.get(answer.status, "rejected")


def tick(event: Envelope, ctx: Context) -> Outcome:
    """The scheduler's ``timers.due`` (``timerowner = merge``): each decision whose merge a dead
    worker left unrecorded is handled again (:mod:`shared.effects.recovery`) and its reply
    published.

    Raises:
        UpstreamError: a reply could not be published (no ``K_SINK``, the Broker failed): the
            tick's transaction rolls back and the timers stay due (503, retried).
    """
    handled, published = 0, 0
    for timer in recovery.distinct_events(timers.claim_due(ctx.tx, OWNER)):
        outcome = recovery.handle_again(ctx, timer, on_decision)
        handled += outcome is not None
        if isinstance(outcome, Reply):
            out = reply_event(OWNER, ctx.deps.settings.event_source, outcome, {})
            ctx.deps.broker().publish(out)
            published += 1
    return NoReply(f"tick: {handled} decision(s) handled again, {published} event(s) published")


def on_decision(event: Envelope, ctx: Context) -> Outcome:
    """Merge the run a ``pass`` decision names (see the module docstring).

    Raises:
        InvalidDataError: ``data`` is not a valid :class:`JudgeDecided` (names the field).
        ConflictError: another delivery is merging this run right now (409).
        TransientError: GitHub is unavailable or rate limited (retried).
    """
    if event.type != JUDGE_DECIDED:
        return NoReply(f"ignored event type {event.type}")
    decided: JudgeDecided = event.model(JudgeDecided)
    if decided.decision != "pass":
        return NoReply(f"decision is {decided.decision}; nothing to merge", run_id=decided.run_id)
    lock = ctx.tx.one(SQL_LOCK_RUN, run_id=decided.run_id)
    if not (lock and lock["ok"]):
        raise ConflictError(f"run {decided.run_id} is being merged by another delivery")
    run = get_run(ctx.tx, decided.run_id)
    if run is None:
        return NoReply(f"run {decided.run_id} not found; nothing merged")
    if not run.names_pull_request:
        return _escalate(ctx, run, "missing_pull_request", "the run names no PR or head SHA")
    policy, policy_hash = effective_policy(ctx.tx, ctx.deps.settings, run.repository)
    if run.status != "merging":
        return _replay(ctx, run, policy)
    owner = outbox.Recovery(owner=OWNER, run_id=run.id, event_type=JUDGE_DECIDED, data=event.json())
    return _Merge(ctx, run, policy, policy_hash, owner).run()


class _Merge:
    """One merge attempt for one locked run in ``merging``."""

    def __init__(
        self,
        ctx: Context,
        run: Run,
        policy: Policy,
        policy_hash: str,
        owner: outbox.Recovery,
    ):
        self.ctx, self.run_row, self.policy, self.policy_hash = ctx, run, policy, policy_hash
        self.owner = owner
        self.repo, self.number, self.sha = run.pull_target()
        self.key = merge_key(self.repo, self.number, self.sha)

    def run(self) -> Outcome:
        github = self.ctx.deps.github()
        state = github.pull_live(self.repo, self.number)  # one GraphQL read (issue 12)
        if state is None:
            return escalate(
                self.ctx,
                self.run_row.id,
                reason=PULL_REQUEST_NOT_FOUND,
                message=not_found_message(PULL_REQUEST_NOT_FOUND, self.run_row),
            )
        pull = state.pull
        add_graphql_points(self.ctx.tx, self.run_row.id, state.points)
        project_pull(self.ctx.tx, self.repo, pull)
        if pull.merged:
            return self._already_merged(pull.head.sha, pull.merge_commit_sha, pull.head.ref)
        if pull.state != "open":
            return _escalate(self.ctx, self.run_row, "pr_closed", "the PR was closed unmerged")
        drifts = drift_since_judging(self.ctx.tx, self.run_row, state, policy_hash=self.policy_hash)
        if drifts:
            return self._back_to_gating([d.field for d in drifts])
        method = self.policy.merge_method
        request = {"pr_number": self.number, "sha": self.sha, "merge_method": method}
        result = github_write(
            self.ctx.tx,
            self.ctx.deps,
            key=self.key,
            action="merge",
            repository=self.repo,
            run_id=self.run_row.id,
            request=request,
            dry_run=self.policy.dry_run,
            call=lambda writer: writer.merge_pull(
                self.repo, self.number, sha=self.sha, merge_method=method, commit_title=None
            ),
            classify=classify_merge,
            recovery=self.owner,
        )
        if result.outcome == DRY_RUN:
            self._delete_branch(pull.head.ref)  # recorded as a would-be deletion only
            transition(
                self.ctx.tx,
                self.run_row.id,
                from_statuses=["merging"],
                to_status="completed",
                reason=DRY_RUN,
            )
            return _merged_reply(self.run_row, self.policy, None, dry_run=True)
        if result.outcome == REPOSITORY_NOT_ALLOWED:
            return _escalate(
                self.ctx,
                self.run_row,
                REPOSITORY_NOT_ALLOWED,
                f"{self.repo} is not on the GitHub write allow-list",
            )
        answer = result.answer or WriteAnswer(0, {})
        if result.outcome == "merged":
            return self._succeeded(str(answer.body.get("sha") or ""), pull.head.ref)
        if result.outcome == "head_moved":
            return self._back_to_gating(["head_sha"], note=answer.message)
        if result.outcome == "not_mergeable":
            return self._not_mergeable(answer)
        return _escalate(
            self.ctx,
            self.run_row,
            "merge_rejected",
            f"GitHub refused the merge ({answer.status}): {answer.message}",
        )

    def _already_merged(self, head_sha: str, merge_sha: str | None, head_ref: str) -> Outcome:
        if head_sha != self.sha:
            return _escalate(
                self.ctx,
                self.run_row,
                "merged_elsewhere",
                f"the PR was merged at {head_sha}, not at the judged {self.sha}",
            )
        outbox.settle(self.ctx.tx, self.key, self.owner)  # a dead worker's claim, if any
        record_write(
            self.ctx.tx,
            key=self.key,
            run_id=self.run_row.id,
            repository=self.repo,
            action="merge",
            mode="live",
            request={"pr_number": self.number, "sha": self.sha},
            response={"sha": merge_sha, "merged": True, "observed": "already merged"},
            http_status=None,
            outcome="already_merged",
        )
        return self._succeeded(merge_sha or "", head_ref)

    def _not_mergeable(self, answer: WriteAnswer) -> Outcome:
        # 405 also answers a PR that is already merged: re-read before deciding.
        pull = self.ctx.deps.github().get_pull(self.repo, self.number)
        if pull is not None and pull.merged and pull.head.sha == self.sha:
            return self._already_merged(pull.head.sha, pull.merge_commit_sha, pull.head.ref)
        # GitHub refused although the judge saw a mergeable PR (branch protection, a conflict
        # that appeared since): a person decides, with GitHub's message.
        return _escalate(
            self.ctx, self.run_row, "not_mergeable", f"GitHub refused the merge: {answer.message}"
        )

    def _back_to_gating(self, fields: list[str], note: str = "") -> Outcome:
        # The sealed decision no longer describes the PR, so it is never merged. The seal is
        # one per run and cannot be re-opened; a person (or a new attempt on the new head)
        # takes it from here — an escalation, never a run left waiting for a verdict that
        # was already given.
        detail = ", ".join(fields) + (f" ({note})" if note else "")
        return _escalate(
            self.ctx,
            self.run_row,
            DRIFT_AFTER_JUDGING,
            f"the pull request changed after judging: {detail}; not merged",
        )

    def _delete_branch(self, head_ref: str) -> None:
        """Delete the merged head branch when the policy says so (its own effect key)."""
        if self.policy.delete_branch and head_ref:
            github_write(
                self.ctx.tx,
                self.ctx.deps,
                key=f"delete-branch:{self.repo}:{head_ref}@{self.sha}",
                action="delete_branch",
                repository=self.repo,
                run_id=self.run_row.id,
                request={"branch": head_ref},
                dry_run=self.policy.dry_run,
                call=lambda writer: writer.delete_branch(self.repo, head_ref),
                # 422 "Reference does not exist": someone (or GitHub's auto-delete) was first.
                classify=lambda a: (
                    "deleted"
                    if a.ok
                    else ("already_gone" if a.status == 422 else f"rejected_{a.status}")
                ),
                recovery=self.owner,
            )

    def _succeeded(self, merge_sha: str, head_ref: str) -> Outcome:
        self._delete_branch(head_ref)
        to_status: RunStatus = "completed" if self.policy.deploy_mode == "none" else "deploying"
        transition(
            self.ctx.tx,
            self.run_row.id,
            from_statuses=["merging"],
            to_status=to_status,
            reason="merged",
        )
        return _merged_reply(self.run_row, self.policy, merge_sha or None, dry_run=False)


def _merged_reply(
    run: Run, policy: Policy, merge_sha: str | None, *, dry_run: bool, method: str = ""
) -> Reply:
    data = pr_merged(
        run,
        merge_commit_sha=merge_sha,
        merge_method=method or policy.merge_method,
        dry_run=dry_run,
    )
    return Reply(PR_MERGED, data, key=f"merge:{run.id}", subject=str(run.id), run_id=run.id)


def _replay(ctx: Context, run: Run, policy: Policy) -> Outcome:
    """A run already past ``merging``: the same reply as when it was merged, else nothing."""
    key = merge_key(*run.pull_target())
    row = ctx.tx.one(SQL_MERGE_RECORD, key=key, outcomes=list(MERGED_OUTCOMES))
    if row is None:
        return NoReply(f"run is {run.status}; nothing to merge", run_id=run.id)
    response = row["response"] or {}
    method = str((row["request"] or {}).get("merge_method") or policy.merge_method)
    return _merged_reply(
        run,
        policy,
        response.get("sha"),
        dry_run=row["outcome"] == DRY_RUN,
        method=method,
    )


def _escalate(ctx: Context, run: Run, reason: str, message: str) -> Outcome:
    """``merging`` → ``needs_human`` with ``reason``; reply ``run.escalated`` (once)."""
    escalated = escalate_run(ctx.tx, run.id, reason=reason, from_statuses=["merging"])
    if escalated is None:
        return NoReply(f"run is {run.status}; not escalated", run_id=run.id)
    return escalated_reply(escalated, reason=reason, message=message)
