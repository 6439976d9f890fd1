"""The sealed decision record: what an evaluation saw, and whether the live state still matches
(issue 4 "Sealed decision record"; DESIGN §12.7: never judge one state and merge another).

A :class:`Seal` is stored in ``codex_judge.evaluations.seal`` when the judge decides: head and
base SHAs, every check run and commit status at the head SHA (id, app, conclusion), every review
thread (id, resolved, outdated), the diff hash (SHA-256 over GitHub's PR files, so a later
reader can recompute it) and the diff source the gates used, the effective policy hash, the
prompt template version, the model and the verdict.

Merge (issue 5) reads the live state with :func:`read_live` and calls :func:`seal_matches`; it
proceeds only when no drift is ``blocking``. Blocking: the head SHA or the diff changed, a check
is missing, new or concluded differently, a review thread is unresolved that was not, the
policy changed. Informational: the base branch moved (GitHub merges onto the current base and
the head SHA guard still holds), a check was re-run with the same conclusion.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.db import Tx
from shared.gates.judge import diff_hash
from shared.models.github import CheckRun, CommitStatus, PullFile, PullRequest, ReviewThread
from shared.ports import GitHub

__all__ = [
    "Drift",
    "LiveState",
    "Seal",
    "SealedCheck",
    "SealedThread",
    "live_from",
    "load_seal",
    "read_live",
    "seal_matches",
]

SQL_LOAD_SEAL = """
SELECT seal FROM codex_judge.evaluations WHERE run_id = :run_id AND stage = 'final'
"""


class SealedCheck(BaseModel):
    """A check run (``kind`` check_run, GitHub ``id``) or commit status (``kind`` status) at the
    head SHA. ``app`` is the reporting GitHub App's slug (check runs only)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    id: int | None = None
    name: str
    app: str | None = None
    status: str | None = None
    conclusion: str | None = None

    def key(self) -> tuple[str, str, str]:
        """Identity across re-runs: (kind, name, app)."""
        return (self.kind, self.name, self.app or "")


class SealedThread(BaseModel):
    """A review thread (GraphQL node id) and its state."""

    model_config = ConfigDict(frozen=True)

    id: str
    resolved: bool
    outdated: bool = False


class LiveState(BaseModel):
    """What GitHub says now; the comparable part of a :class:`Seal`.

    ``check_runs`` / ``review_threads`` are None when they were not read (gates that decided
    before CI); a None side is not compared.
    """

    head_sha: str | None = None
    base_sha: str | None = None
    check_runs: list[SealedCheck] | None = None
    review_threads: list[SealedThread] | None = None
    diff_hash: str | None = Field(default=None, description="SHA-256 over GitHub's PR files")
    policy_hash: str | None = None


class Seal(LiveState):
    """The sealed record of one evaluation (stored as jsonb)."""

    pr_number: int | None = None
    diff_source: str | None = Field(
        default=None, description="github_pr_files, github_pr_diff or worktree_merge_base"
    )
    prompt_template_version: str | None = None
    model: str | None = None
    judge_kind: str | None = None
    decision: str | None = None
    confidence: float | None = None
    reason_codes: list[str] = Field(default_factory=list)


class Drift(BaseModel):
    """One difference between the seal and the live state."""

    field: str
    sealed: Any = None
    live: Any = None
    blocking: bool = True


def _compare_checks(sealed: list[SealedCheck], live: list[SealedCheck]) -> list[Drift]:
    drifts: list[Drift] = []
    before = {c.key(): c for c in sealed}
    now = {c.key(): c for c in live}
    for key in sorted(before.keys() | now.keys()):
        name = f"check_runs[{key[1]}" + (f"@{key[2]}" if key[2] else "") + "]"
        old, new = before.get(key), now.get(key)
        if old is None or new is None:
            drifts.append(
                Drift(
                    field=name,
                    sealed=old.conclusion if old else None,
                    live=new.conclusion if new else None,
                )
            )
        elif (old.status, old.conclusion) != (new.status, new.conclusion):
            drifts.append(Drift(field=name, sealed=old.conclusion, live=new.conclusion))
        elif old.id != new.id:
            drifts.append(Drift(field=f"{name}.id", sealed=old.id, live=new.id, blocking=False))
    return drifts


def _compare_threads(sealed: list[SealedThread], live: list[SealedThread]) -> list[Drift]:
    before = {t.id: t for t in sealed}
    drifts: list[Drift] = []
    for thread in sorted(live, key=lambda t: t.id):
        old = before.get(thread.id)
        if not thread.resolved and (old is None or old.resolved):
            drifts.append(
                Drift(
                    field=f"review_threads[{thread.id}]",
                    sealed="absent" if old is None else "resolved",
                    live="unresolved",
                )
            )
    return drifts


def seal_matches(sealed: Seal, live: LiveState) -> list[Drift]:
    """Every difference between ``sealed`` and ``live``; merge proceeds only when none blocks.

    Args:
        sealed: the evaluation's seal (:func:`load_seal`).
        live: the current state (:func:`read_live`); its None fields are not compared.

    Returns:
        Drifts in a stable order (SHAs, diff, policy, checks, threads); empty when they match.
    """
    drifts: list[Drift] = []
    for name in ("head_sha", "diff_hash", "policy_hash"):
        old, new = getattr(sealed, name), getattr(live, name)
        if new is not None and old != new:
            drifts.append(Drift(field=name, sealed=old, live=new))
    if live.base_sha is not None and sealed.base_sha != live.base_sha:
        drifts.append(
            Drift(field="base_sha", sealed=sealed.base_sha, live=live.base_sha, blocking=False)
        )
    if live.check_runs is not None and sealed.check_runs is not None:
        drifts += _compare_checks(sealed.check_runs, live.check_runs)
    if live.review_threads is not None and sealed.review_threads is not None:
        drifts += _compare_threads(sealed.review_threads, live.review_threads)
    return drifts


def live_from(
    pull: PullRequest | None,
    files: list[PullFile],
    check_runs: list[CheckRun],
    statuses: list[CommitStatus],
    threads: list[ReviewThread],
) -> LiveState:
    """Assemble a :class:`LiveState` from GitHub objects already read (no I/O).

    ``head_sha`` is ``"(pull request not found)"`` when ``pull`` is None, so it drifts.
    """
    checks = [
        SealedCheck(
            kind="check_run",
            id=run.id,
            name=run.name,
            app=run.app.slug if run.app else None,
            status=run.status,
            conclusion=run.conclusion,
        )
        for run in check_runs
    ]
    checks += [
        SealedCheck(kind="status", id=s.id, name=s.context, status=s.state, conclusion=s.state)
        for s in statuses
    ]
    return LiveState(
        head_sha=pull.head.sha if pull else "(pull request not found)",
        base_sha=pull.base.sha if pull else None,
        check_runs=sorted(checks, key=lambda c: c.key()),
        review_threads=sorted(
            (
                SealedThread(id=t.id, resolved=t.is_resolved, outdated=t.is_outdated)
                for t in threads
            ),
            key=lambda t: t.id,
        ),
        diff_hash=diff_hash(files),
    )


def read_live(github: GitHub, repo: str, pr_number: int, head_sha: str) -> LiveState:
    """Read the live state of a pull request from GitHub in one GraphQL read
    (:meth:`shared.ports.GitHub.pull_live`; see :func:`live_from`).

    Args:
        github: the GitHub port.
        repo: ``owner/name``.
        pr_number: the pull request number.
        head_sha: the judged commit (40 hex); the check runs and statuses read are the pull
            request's head commit's, so a moved head drifts on ``head_sha`` and on the checks.

    Raises:
        TransientError: GitHub is unavailable or rate limited (from the port).
    """
    state = github.pull_live(repo, pr_number)
    if state is None:
        return live_from(None, [], [], [], [])
    return live_from(state.pull, state.files, state.check_runs, state.statuses, state.threads)


def load_seal(tx: Tx, run_id: int) -> Seal | None:
    """The seal of the run's final evaluation, or None (not judged yet, or judged before 0004)."""
    row = tx.one(SQL_LOAD_SEAL, run_id=run_id)
    if row is None or not row["seal"]:
        return None
    return Seal.model_validate(row["seal"])
