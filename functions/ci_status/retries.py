"""Flaky retries: re-request a failed check suite when the failure looks infrastructural
(issue 3 "CI gate"; GitHub REST "Check suites: Rerequest a check suite").

A CI failure is retried instead of concluded when **all** of these hold:

* ``policy.flaky_retry_max`` > 0 and fewer retries than that were made on this commit (counted
  from the effects outbox, so the bound survives restarts);
* every failing required check is a check run whose conclusion is in
  ``policy.flaky_retry_conclusions`` (``timed_out``, ``cancelled`` by default: a lost runner
  or an infrastructure timeout, not a test failure) and whose check suite is known;
* writes are allowed: the repository is in ``settings.github_write_allowlist`` and
  ``policy.dry_run`` is false (DESIGN §11). Otherwise the failure concludes, and the summary
  says why no retry was made.

Each retry is one effect keyed ``rerequest:<repo>@<sha>:<suite_id>:<n>`` (``n`` = 1.. per
commit) through :func:`shared.effects.outbox.perform`, so a redelivery never re-requests twice; the
suite is then marked re-requested, which makes its current check runs read as pending until
the re-run reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.effects.outbox import perform
from shared.errors import PermanentError
from shared.gates.ci import CiResult
from shared.github.checks import mark_suite_rerequested
from shared.policy.model import Policy
from shared.ports import GitHub
from shared.runtime.handler import Context

EFFECT_KIND = "ci_rerequest"

SQL_FAILING_RUNS = """
SELECT name, suite_id, conclusion FROM github.check_state
WHERE repository = :repository AND head_sha = :head_sha AND name = ANY(:names)
"""
# The suite's newest check run id identifies one failure of it: a retry of the same failure
# (a redelivery after a crash) finds its effect again instead of re-requesting twice.
SQL_SUITE_AFTER_ID = """
SELECT CAST(max(CAST(external_id AS numeric)) AS text) AS after_id FROM github.check_state
WHERE repository = :repository AND suite_id = :suite_id AND kind = 'check_run'
"""
SQL_SAME_FAILURE = """
SELECT idempotency_key FROM runtime.effects
WHERE kind = :kind AND left(idempotency_key, length(:prefix)) = :prefix
  AND request ->> 'after_id' = :after_id
"""
SQL_RETRIES_SO_FAR = """
SELECT count(*) AS n FROM runtime.effects
WHERE kind = :kind AND left(idempotency_key, length(:prefix)) = :prefix AND state = 'done'
"""


@dataclass(frozen=True)
class RetryDecision:
    """What happened to a failure: ``retried`` suites (ids), or why none was (``skipped``)."""

    retried: list[int]
    skipped: str | None = None

    def evidence(self) -> dict[str, Any]:
        """For ``ci_summary.flaky_retry``."""
        return {"retried_suites": self.retried, "skipped": self.skipped}


def _rerequest(github: GitHub, repo: str, suite_id: int) -> Callable[[], dict[str, Any]]:
    return lambda: github.rerequest_check_suite(repo, suite_id)


def key_prefix(repository: str, sha: str) -> str:
    """The effects key prefix of every retry on one commit."""
    return f"rerequest:{repository}@{sha}:"


def maybe_retry(
    run: dict[str, Any], result: CiResult, policy: Policy, ctx: Context
) -> RetryDecision:
    """Re-request the failed suites of ``run``'s commit when the module rules allow it.

    Args:
        run: the run row (``id``, ``repository``, ``head_sha``).
        result: a ``failure`` verdict.

    Returns:
        The suites re-requested now (empty when the failure should conclude).

    Raises:
        TransientError: GitHub failed or rate-limited the request (the claim is released).
    """
    if policy.flaky_retry_max <= 0:
        return RetryDecision([], None)
    repo, sha = run["repository"], run["head_sha"]
    rows = ctx.tx.all(SQL_FAILING_RUNS, repository=repo, head_sha=sha, names=result.failing)
    infrastructural = {c.lower() for c in policy.flaky_retry_conclusions}
    failing = [r for r in rows if r["conclusion"] is not None]
    if len({r["name"] for r in failing}) < len(result.failing) or any(
        r["conclusion"].lower() not in infrastructural or r["suite_id"] is None for r in failing
    ):
        return RetryDecision([], "not_infrastructural")
    prefix = key_prefix(repo, sha)
    done = ctx.tx.one(SQL_RETRIES_SO_FAR, kind=EFFECT_KIND, prefix=prefix)
    count = int(done["n"]) if done else 0
    if repo not in ctx.deps.settings.github_write_allowlist:
        return RetryDecision([], "repository_not_allowed")
    if policy.dry_run:
        return RetryDecision([], "dry_run")
    github = ctx.deps.github()
    retried: list[int] = []
    for suite_id in sorted({int(r["suite_id"]) for r in failing}):
        row = ctx.tx.one(SQL_SUITE_AFTER_ID, repository=repo, suite_id=suite_id)
        after_id = str(row["after_id"]) if row and row["after_id"] is not None else ""
        same = ctx.tx.one(
            SQL_SAME_FAILURE, kind=EFFECT_KIND, prefix=f"{prefix}{suite_id}:", after_id=after_id
        )
        if same is not None:
            key = str(same["idempotency_key"])
        elif count >= policy.flaky_retry_max:
            return RetryDecision(retried, "retry_limit_reached")
        else:
            count += 1
            key = f"{prefix}{suite_id}:{count}"
        request = {
            "repository": repo,
            "head_sha": sha,
            "suite_id": suite_id,
            "after_id": after_id,
        }
        try:
            outcome = perform(
                ctx.deps.db,
                key=key,
                kind=EFFECT_KIND,
                run_id=run["id"],
                request=request,
                call=_rerequest(github, repo, suite_id),
            )
        except PermanentError as exc:  # GitHub refused (e.g. 422 not rerequestable): conclude
            ctx.log.warning("check suite re-request refused", extra={"error": exc.body()})
            return RetryDecision(retried, "rerequest_refused")
        if outcome.state != "done":
            return RetryDecision(retried, "rerequest_refused")
        mark_suite_rerequested(ctx.tx, repo, sha, suite_id)
        retried.append(suite_id)
    return RetryDecision(retried, None)
