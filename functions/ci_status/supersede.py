"""A push to a pull request's branch supersedes the older runs of that PR (issue 3: "a verdict
is for the run's commit SHA only; a push to the branch makes the older run ``superseded``,
never green by inheritance"; DESIGN §12 item 4).

On ``com.github.pull_request.synchronize`` the payload is projected first; then every active
run of the PR whose head SHA differs from the **projected** head (newest by GitHub's own
``updated_at``, so a late, older synchronize cannot supersede the newer run) and that has not
reached the merge yet moves to ``superseded`` with reason ``superseded_by_push``
(compare-and-set). Its ci-status timers are retired.
"""

from __future__ import annotations

from typing import Any

from shared.github.dispatch import project_webhook
from shared.runs import RunStatus, active_runs_for_pr, transition
from shared.runtime.outcomes import Context, NoReply, Outcome
from shared.waits import timers

SUPERSEDED_BY_PUSH = "superseded_by_push"
OWNER = "ci-status"
# Past the judge the merge itself checks the expected head SHA (issue 5), so only runs still
# being gated are superseded here.
GATED: tuple[RunStatus, ...] = (
    "notified",
    "run_complete",
    "waiting_for_ci",
    "waiting_for_review",
    "judging",
)
TIMER_KINDS = ("ci_timeout", "reconcile")

SQL_PR_HEAD = """
SELECT head_sha FROM github.pr_state WHERE repository = :repository AND pr_number = :number
"""


def on_synchronize(payload: dict[str, Any], ctx: Context) -> Outcome:
    """Project the push and supersede the PR's older gated runs (see the module docstring)."""
    touched = project_webhook(ctx.tx, "pull_request", payload)
    if not touched.repository or len(touched.pr_numbers) != 1:
        return NoReply("synchronize names no pull request")
    number = next(iter(touched.pr_numbers))
    row = ctx.tx.one(SQL_PR_HEAD, repository=touched.repository, number=number)
    head = row["head_sha"] if row else None
    if not head:
        return NoReply("pull request head unknown")
    superseded: list[int] = []
    for run in active_runs_for_pr(ctx.tx, touched.repository, number):
        if not run.head_sha or run.head_sha == head:
            continue
        if transition(
            ctx.tx,
            run.id,
            from_statuses=GATED,
            to_status="superseded",
            reason=SUPERSEDED_BY_PUSH,
        ):
            for kind in TIMER_KINDS:
                timers.cancel(ctx.tx, owner=OWNER, run_id=run.id, kind=kind)
            superseded.append(run.id)
    if not superseded:
        return NoReply("no older run of this pull request is waiting")
    ctx.log.info("runs superseded by a push", extra={"run_ids": superseded, "head_sha": head})
    return NoReply(f"superseded runs {superseded} by push of {head}", run_id=superseded[0])
