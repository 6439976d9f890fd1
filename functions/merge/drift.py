"""Has the pull request changed since it was judged? (issue 5 "merge": re-read the PR and
compare with the sealed decision; DESIGN §12.7: never judge one state and merge another.)

With a seal (:mod:`shared.runs.seal`, written by the judge) the live state — head and base SHAs,
check runs and statuses at the head SHA, review threads, the diff hash — plus the policy hash
now in force is compared with :func:`shared.runs.seal.seal_matches`; only blocking drifts count.
Without a seal (an evaluation from before the seal existed) the head SHA and the base branch
are compared with the run's.
"""

from __future__ import annotations

from shared.db import Tx
from shared.models.github import PullLive
from shared.runs import Run
from shared.runs.seal import Drift, live_from, load_seal, seal_matches


def drift_since_judging(
    tx: Tx,
    run: Run,
    state: PullLive,
    *,
    policy_hash: str,
) -> list[Drift]:
    """The blocking differences between the judged state and GitHub now (empty: unchanged).

    Args:
        tx: the open transaction (reads the seal).
        run: the run (it names its repository, pull request and head SHA).
        state: the pull request's live state as just re-read (one GraphQL read,
            :meth:`shared.ports.GitHub.pull_live`).
        policy_hash: SHA-256 of the policy in force now.

    """
    pull = state.pull
    sealed = load_seal(tx, run.id)
    if sealed is None:
        drifts: list[Drift] = []
        if pull.head.sha != run.head_sha:
            drifts.append(Drift(field="head_sha", sealed=run.head_sha, live=pull.head.sha))
        if run.base_ref and pull.base.ref != run.base_ref:
            drifts.append(Drift(field="base_ref", sealed=run.base_ref, live=pull.base.ref))
        return drifts
    live = live_from(pull, state.files, state.check_runs, state.statuses, state.threads)
    if sealed.policy_hash is not None:
        live = live.model_copy(update={"policy_hash": policy_hash})
    return [d for d in seal_matches(sealed, live) if d.blocking]
