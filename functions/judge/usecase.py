"""The judge use case (DESIGN §4 judge): deterministic gates first, then — once CI and review
are final — mergeability and the verdict, sealed once.

* ``run.completed``: a run already ``needs_human`` (missing metadata) is sealed at once; a
  Failed/Error workflow → needs_iteration ``workflow_failed``; otherwise the PR-only gates
  (empty diff, conflict markers, patch-apply failures) decide at once when one fails.
* ``ci.concluded`` / ``review.concluded``: CI failure → needs_iteration ``ci_failed`` (the prompt
  names the failing checks); when both verdicts are final: head moved / mergeable state dirty,
  the gates again on the current files, a blocking review, then the offline judge (no language
  model configured) or the LLM judge.
* ``mergeable_state`` unknown (GitHub computes it lazily): a ``mergeable_poll`` timer (owner
  ``judge``) is scheduled and nothing is decided; the judge's tick calls :func:`decide_run`
  again, and after ``policy.mergeable_poll_timeout_s`` with ``mergeable_timed_out`` the run is
  needs_human ``mergeable_unknown``.
* GitHub answering 404 for the PR, its repository or the head commit (on any read, at any
  step; :class:`~shared.errors.UpstreamNotFoundError`) is sealed needs_human
  ``pull_request_not_found`` / ``repository_not_found`` / ``commit_not_found`` — a decision,
  never a dead letter (DESIGN §6).

Every decision is sealed with what it saw (:mod:`shared.runs.seal`) and replied as
``judge.decided`` with the CloudEvent extension ``decision`` (pass|needs_iteration|needs_human)
so Triggers can filter on it. The judge decides once per (run, head SHA) and replies once: a
redelivery of the deciding event is answered from the inbox, and any other trigger for a run
already sealed (the second of ``ci.concluded``/``review.concluded``, a late tick) answers no
event. The run is locked (:func:`shared.runs.lock`) for the whole decision, so a concurrent
trigger waits and then finds the seal.
"""

from __future__ import annotations

from typing import Any

from functions.judge.evaluations import existing, seal, tokens_today
from functions.judge.files import pull_files
from functions.judge.llm_judge import JudgeConfig, llm_verdict
from shared.artifacts.fetch import fetch_pending
from shared.artifacts.judge_view import judge_view
from shared.errors import UpstreamNotFoundError
from shared.gates.antigaming import Finding
from shared.gates.inventory import ChangeSnapshot
from shared.gates.judge import (
    Verdict,
    ci_failure,
    diff_hash,
    gate_report,
    mergeability,
    offline_verdict,
    review_blocking,
)
from shared.github.pulls import project_pull
from shared.models.events import (
    CI_CONCLUDED,
    REVIEW_CONCLUDED,
    RUN_COMPLETED,
    CiConcluded,
    JudgeDecided,
    Reason,
    ReviewConcluded,
    RunCompleted,
)
from shared.models.github import PullFile
from shared.policy.model import Policy
from shared.policy.resolution import effective_policy
from shared.runs import Run, add_graphql_points, lock
from shared.runs.seal import LiveState, Seal, live_from
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome, Reply
from shared.waits import timers
from shared.waits.escalation import PULL_REQUEST_NOT_FOUND, not_found_message

MERGEABLE_POLL = "mergeable_poll"
MERGEABLE_FIRST_POLL_S = 5.0


def on_run_completed(event: Envelope, ctx: Context) -> Outcome:
    """``run.completed``: the deterministic gates (see the module docstring)."""
    return _decide(ctx, event.model(RunCompleted).run_id, RUN_COMPLETED)


def on_ci_concluded(event: Envelope, ctx: Context) -> Outcome:
    """``ci.concluded``: decide once CI and review are both final."""
    return _decide(ctx, event.model(CiConcluded).run_id, CI_CONCLUDED)


def on_review_concluded(event: Envelope, ctx: Context) -> Outcome:
    """``review.concluded``: decide once CI and review are both final."""
    return _decide(ctx, event.model(ReviewConcluded).run_id, REVIEW_CONCLUDED)


def decide_run(ctx: Context, run_id: int, *, mergeable_timed_out: bool = False) -> Outcome:
    """Decide run ``run_id`` again now (the judge's tick: a ``mergeable_poll`` timer is due).

    Args:
        ctx: the open transaction and dependencies.
        run_id: ``codex_judge.runs.id``.
        mergeable_timed_out: the poll deadline passed; a still-unknown mergeable state is then
            sealed needs_human ``mergeable_unknown`` instead of re-polled.

    Returns:
        The sealed ``judge.decided`` reply (the same one for a run already sealed), or NoReply
        when the run is still waiting (unknown run, CI/review pending, mergeable unknown).
    """
    return _decide(ctx, run_id, "tick", mergeable_timed_out=mergeable_timed_out)


def _decide(
    ctx: Context, run_id: int, trigger: str, *, mergeable_timed_out: bool = False
) -> Outcome:
    run = lock(ctx.tx, run_id)
    if run is None:
        return NoReply("unknown run", run_id=run_id)
    # The run's own artifacts: those no pass has read yet (issue 13), then their evidence.
    read = fetch_pending(ctx.tx, ctx.deps.artifact_stores(), ctx.deps.settings, run)
    view = judge_view({**run.notify_payload, **read.enrichment})
    run = run.model_copy(update={"notify_payload": view})
    sealed = existing(ctx.tx, run)
    if sealed is not None:
        # One reply per fact (issue 12): the decision was replied once, by the trigger that
        # made it (a redelivery of that event is answered from the inbox, never reaching
        # here); another trigger for the same run and head SHA publishes nothing again.
        return NoReply("already decided and replied at this head SHA", run_id=run.id)
    policy, policy_hash = effective_policy(ctx.tx, ctx.deps.settings, run.repository)
    judge = _Judge(run, ctx, policy, policy_hash, trigger)
    judge.mergeable_timed_out = mergeable_timed_out
    outcome: Outcome
    try:
        outcome = judge.on_run_completed() if trigger == RUN_COMPLETED else judge.on_verdict()
    except UpstreamNotFoundError as gone:
        outcome = judge.not_found(gone)
    if isinstance(outcome, Reply) and isinstance(outcome.data, JudgeDecided):
        ctx.extensions_out["decision"] = outcome.data.decision
    return outcome


class _Judge:
    """One decision for one locked run."""

    def __init__(
        self, run: Run, ctx: Context, policy: Policy, policy_hash: str, trigger: str
    ) -> None:
        self.run, self.ctx, self.policy, self.policy_hash = run, ctx, policy, policy_hash
        self.files_detail: list[dict[str, Any]] = []
        self.files: list[PullFile] | None = None
        self.unmerged_paths: list[str] = []
        self.snapshot: ChangeSnapshot | None = None
        self.questions: list[Finding] = []
        self.live: LiveState | None = None
        self.mergeable_timed_out = False
        self.inputs: dict[str, Any] = {
            "trigger": trigger,
            "head_sha": run.head_sha,
            "pr_number": run.pr_number,
            "phase": run.phase,
            "ci": run.ci_summary,
            "review": run.review_summary,
            "policy_hash": policy_hash,
        }

    def seal(self, verdict: Verdict) -> Reply:
        self.inputs.update(verdict.extra)
        live = self.live or LiveState(
            head_sha=self.run.head_sha,
            base_sha=self.inputs.get("base_sha"),
            diff_hash=self.inputs.get("diff_hash"),
        )
        record = Seal(
            **live.model_dump(),
            diff_source=self.inputs.get("diff_source"),
        )
        timers.cancel(self.ctx.tx, owner="judge", run_id=self.run.id, kind=MERGEABLE_POLL)
        return seal(
            self.ctx.tx,
            self.run,
            verdict,
            inputs=self.inputs,
            policy=self.policy,
            policy_hash=self.policy_hash,
            record=record,
        )

    def not_found(self, gone: UpstreamNotFoundError) -> Reply:
        """Seal needs_human for a PR, repository or commit GitHub does not know."""
        self.ctx.log.warning(
            "upstream not found: needs_human",
            extra={"run_id": self.run.id, "reason": gone.reason, "error": gone.message},
        )
        message = not_found_message(gone.reason, self.run)
        return self.seal(Verdict("needs_human", [Reason(code=gone.reason, message=message)]))

    def on_run_completed(self) -> Outcome:
        run = self.run
        if run.status == "needs_human":
            code = run.reason or "missing_run_metadata"
            return self.seal(
                Verdict(
                    "needs_human",
                    [Reason(code=code, message=f"the run cannot be judged automatically: {code}")],
                )
            )
        if run.phase in ("Failed", "Error"):
            return self.seal(
                Verdict(
                    "needs_iteration",
                    [
                        Reason(
                            code="workflow_failed",
                            message=f"the workflow ended in phase {run.phase}",
                        )
                    ],
                    f"The previous attempt's workflow ended in phase {run.phase}"
                    + (f" ({run.reason})" if run.reason else "")
                    + ". Find the cause in its logs, fix it and complete the issue.",
                )
            )
        if not run.active:
            return NoReply(f"run is {run.status}", run_id=run.id)
        missing = self._missing_pull()
        if missing is not None:
            return missing
        gate = self._gates()
        if gate is not None:
            return self.seal(gate)
        return NoReply("gates passed; waiting for CI and review", run_id=run.id)

    def on_verdict(self) -> Outcome:
        run = self.run
        if not run.active:
            return NoReply(f"run is {run.status}", run_id=run.id)
        if run.ci_verdict not in (None, "success"):  # failure, stale_base, timed out
            return self.seal(ci_failure(run.ci_summary or {}, self.policy))
        if run.ci_verdict is None or run.review_verdict is None:
            waiting = "CI" if run.ci_verdict is None else "review"
            return NoReply(f"waiting for {waiting}", run_id=run.id)
        missing = self._missing_pull()
        if missing is not None:
            return missing
        github = self.ctx.deps.github()
        repo, number, _ = run.pull_target()
        state = github.pull_live(repo, number)  # one GraphQL read (issue 12)
        if state is None:
            message = not_found_message(PULL_REQUEST_NOT_FOUND, run)
            return self.seal(
                Verdict("needs_human", [Reason(code=PULL_REQUEST_NOT_FOUND, message=message)])
            )
        pull = state.pull
        self.inputs["graphql_points"] = state.points
        add_graphql_points(self.ctx.tx, run.id, state.points)
        project_pull(self.ctx.tx, repo, pull)
        self.inputs["mergeable_state"] = pull.mergeable_state
        self.inputs["base_sha"] = pull.base.sha
        unknown = (pull.mergeable_state or "unknown").lower() == "unknown"
        unknown = unknown and pull.head.sha == run.head_sha
        if unknown and not self.mergeable_timed_out:
            timers.schedule(
                self.ctx.tx,
                owner="judge",
                run_id=run.id,
                kind=MERGEABLE_POLL,
                delay_s=MERGEABLE_FIRST_POLL_S,
                payload={"pr_number": run.pr_number, "head_sha": run.head_sha},
                keep_existing=True,
            )
            return NoReply("mergeable state unknown; re-polling", run_id=run.id)
        self.live = live_from(pull, state.files, state.check_runs, state.statuses, state.threads)
        if unknown and self.mergeable_timed_out:
            return self.seal(
                Verdict(
                    "needs_human",
                    [
                        Reason(
                            code="mergeable_unknown",
                            message="GitHub did not compute the mergeable state within "
                            f"{self.policy.mergeable_poll_timeout_s} s",
                        )
                    ],
                )
            )
        blocked = mergeability(pull.mergeable_state, pull.head.sha, run.head_sha)
        if blocked is None:
            blocked = self._gates()
        if blocked is None:
            blocked = review_blocking(run.review_verdict, run.review_summary or {})
        if blocked is not None:
            return self.seal(blocked)
        llm = self.ctx.deps.language_model()
        if llm is None:
            return self.seal(
                offline_verdict(run.ci_summary or {}, run.review_verdict, self.questions)
            )
        return self.seal(
            llm_verdict(
                llm,
                self._llm_config(),
                run=run.model_dump(),
                pull=pull.model_dump(mode="json"),
                files=list(self.files_detail),
                ci_summary=run.ci_summary or {},
                review_summary=run.review_summary or {},
                questions=self.questions,
            )
        )

    def _missing_pull(self) -> Reply | None:
        if self.run.names_pull_request:
            return None
        return self.seal(
            Verdict(
                "needs_human",
                [
                    Reason(
                        code="missing_pull_request",
                        message="the run names no repository, pull request or head SHA",
                    )
                ],
            )
        )

    def _llm_config(self) -> JudgeConfig:
        settings, policy = self.ctx.deps.settings, self.policy
        left = None
        if policy.daily_token_ceiling is not None:
            used = tokens_today(self.ctx.tx, self.run.repository)
            left = max(0, policy.daily_token_ceiling - used)
        return JudgeConfig(
            max_attempts=settings.llm_max_attempts,
            samples=policy.self_consistency_samples,
            min_confidence=policy.min_confidence,
            token_budget=policy.token_budget,
            model=policy.judge_model,
            template_version=policy.prompt_template_version,
            tokens_left_today=left,
            input_cost_per_mtok=settings.llm_input_cost_per_mtok,
            output_cost_per_mtok=settings.llm_output_cost_per_mtok,
            retry_wait_cap_s=settings.llm_retry_wait_cap_s,
        )

    def _pull_files(self) -> list[PullFile]:
        """The changed files the gates judge (:func:`functions.judge.files.pull_files`: the
        worktree snapshot first, GitHub as the labelled fallback), read once per decision."""
        if self.files is None:
            self.files, self.unmerged_paths, self.snapshot = pull_files(
                self.ctx, self.run, self.inputs
            )
        return self.files

    def _gates(self) -> Verdict | None:
        files = self._pull_files()
        self.inputs["diff_hash"] = diff_hash(files)
        self.inputs["files"] = sorted(f.filename for f in files)
        self.files_detail = [f.model_dump(mode="json") for f in files]
        report = gate_report(
            files,
            self.run.notify_payload,
            self.policy,
            unmerged_paths=self.unmerged_paths,
            snapshot=self.snapshot,
        )
        self.inputs.update(report.record())
        self.questions = report.questions
        return report.verdict
