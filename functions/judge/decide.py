"""The judge use case (DESIGN §4 judge): deterministic gates first, then — once CI and review
are final — mergeability and the verdict, sealed once.

* ``run.completed``: a run already ``needs_human`` (missing metadata) is sealed at once; a
  Failed/Error workflow → needs_iteration ``workflow_failed``; otherwise the PR-only gates
  (empty diff, conflict markers, patch-apply failures) decide at once when one fails.
* ``ci.concluded`` / ``review.concluded``: CI failure → needs_iteration ``ci_failed`` (the prompt
  names the failing checks); when both verdicts are final: head moved / mergeable state dirty,
  the gates again on the current files, a blocking review, then the offline judge (no language
  model configured) or the LLM judge.

The run row is locked (``FOR UPDATE``) for the whole decision, so a concurrent duplicate waits
and then answers with the sealed evaluation.
"""

from __future__ import annotations

from typing import Any

from functions.judge.evaluations import existing, seal
from functions.judge.llm_judge import llm_verdict
from shared.events import Envelope
from shared.gates.judge import (
    Verdict,
    ci_failure,
    deterministic_gates,
    diff_hash,
    mergeability,
    offline_verdict,
    review_blocking,
)
from shared.models.events import (
    CI_CONCLUDED,
    REVIEW_CONCLUDED,
    RUN_COMPLETED,
    CiConcluded,
    Reason,
    ReviewConcluded,
    RunCompleted,
)
from shared.models.github import PullFile
from shared.policy import Policy, effective_policy
from shared.projections import project_pull
from shared.runtime import Context, NoReply, Outcome, Reply

SQL_RUN = """
SELECT id, status, active, phase, reason, repository, issue_number, attempt, head_sha,
       pr_number, ci_verdict, ci_summary, review_verdict, review_summary, notify_payload
FROM codex_judge.runs WHERE id = :id FOR UPDATE
"""


def handle(event: Envelope, ctx: Context) -> Outcome:
    """Route one event to a decision (see the module docstring)."""
    run_id: int
    if event.type == RUN_COMPLETED:
        run_id = event.model(RunCompleted).run_id
    elif event.type == CI_CONCLUDED:
        run_id = event.model(CiConcluded).run_id
    elif event.type == REVIEW_CONCLUDED:
        run_id = event.model(ReviewConcluded).run_id
    else:
        return NoReply(f"ignored event type {event.type}")
    run = ctx.tx.one(SQL_RUN, id=run_id)
    if run is None:
        return NoReply("unknown run", run_id=run_id)
    sealed = existing(ctx.tx, run)
    if sealed is not None:
        return sealed
    policy, policy_hash = effective_policy(ctx.tx, ctx.deps.settings, run["repository"])
    judge = _Judge(run, ctx, policy, policy_hash, event.type)
    return judge.on_run_completed() if event.type == RUN_COMPLETED else judge.on_verdict()


class _Judge:
    """One decision for one locked run."""

    def __init__(
        self, run: dict[str, Any], ctx: Context, policy: Policy, policy_hash: str, trigger: str
    ) -> None:
        self.run, self.ctx, self.policy, self.policy_hash = run, ctx, policy, policy_hash
        self.files_detail: list[dict[str, Any]] = []
        self.inputs: dict[str, Any] = {
            "trigger": trigger,
            "head_sha": run["head_sha"],
            "pr_number": run["pr_number"],
            "phase": run["phase"],
            "ci": run["ci_summary"],
            "review": run["review_summary"],
            "policy_hash": policy_hash,
        }

    def seal(self, verdict: Verdict) -> Reply:
        self.inputs.update(verdict.extra)
        return seal(
            self.ctx.tx,
            self.run,
            verdict,
            inputs=self.inputs,
            policy=self.policy,
            policy_hash=self.policy_hash,
        )

    def on_run_completed(self) -> Outcome:
        run = self.run
        if run["status"] == "needs_human":
            code = run["reason"] or "missing_run_metadata"
            return self.seal(
                Verdict(
                    "needs_human",
                    [Reason(code=code, message=f"the run cannot be judged automatically: {code}")],
                )
            )
        if run["phase"] in ("Failed", "Error"):
            return self.seal(
                Verdict(
                    "needs_iteration",
                    [
                        Reason(
                            code="workflow_failed",
                            message=f"the workflow ended in phase {run['phase']}",
                        )
                    ],
                    f"The previous attempt's workflow ended in phase {run['phase']}"
                    + (f" ({run['reason']})" if run["reason"] else "")
                    + ". Find the cause in its logs, fix it and complete the issue.",
                )
            )
        if not run["active"]:
            return NoReply(f"run is {run['status']}", run_id=run["id"])
        missing = self._missing_pull()
        if missing is not None:
            return missing
        gate = self._gates()
        if gate is not None:
            return self.seal(gate)
        return NoReply("gates passed; waiting for CI and review", run_id=run["id"])

    def on_verdict(self) -> Outcome:
        run = self.run
        if not run["active"]:
            return NoReply(f"run is {run['status']}", run_id=run["id"])
        if run["ci_verdict"] == "failure":
            return self.seal(ci_failure(run["ci_summary"] or {}, self.policy))
        if run["ci_verdict"] is None or run["review_verdict"] is None:
            waiting = "CI" if run["ci_verdict"] is None else "review"
            return NoReply(f"waiting for {waiting}", run_id=run["id"])
        missing = self._missing_pull()
        if missing is not None:
            return missing
        github = self.ctx.deps.github()
        pull = github.get_pull(run["repository"], run["pr_number"])
        if pull is None:
            return self.seal(
                Verdict(
                    "needs_human",
                    [Reason(code="pr_not_found", message=f"PR #{run['pr_number']} was not found")],
                )
            )
        project_pull(self.ctx.tx, run["repository"], pull)
        self.inputs["mergeable_state"] = pull.mergeable_state
        blocked = mergeability(pull.mergeable_state, pull.head.sha, run["head_sha"])
        if blocked is None:
            blocked = self._gates()
        if blocked is None:
            blocked = review_blocking(run["review_verdict"], run["review_summary"] or {})
        if blocked is not None:
            return self.seal(blocked)
        llm = self.ctx.deps.language_model()
        if llm is None:
            return self.seal(offline_verdict(run["ci_summary"] or {}, run["review_verdict"]))
        return self.seal(
            llm_verdict(
                llm,
                max_attempts=self.ctx.deps.settings.llm_max_attempts,
                run=run,
                pull=pull.model_dump(mode="json"),
                files=list(self.files_detail),
                ci_summary=run["ci_summary"] or {},
                review_summary=run["review_summary"] or {},
            )
        )

    def _missing_pull(self) -> Reply | None:
        if self.run["repository"] and self.run["pr_number"] and self.run["head_sha"]:
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

    def _gates(self) -> Verdict | None:
        files: list[PullFile] = self.ctx.deps.github().list_pull_files(
            self.run["repository"], self.run["pr_number"]
        )
        self.inputs["diff_hash"] = diff_hash(files)
        self.inputs["files"] = sorted(f.filename for f in files)
        self.files_detail = [f.model_dump(mode="json") for f in files]
        verdict = deterministic_gates(files, self.run["notify_payload"] or {}, self.policy)
        self.inputs["gates"] = [r.model_dump() for r in verdict.reasons] if verdict else []
        return verdict
