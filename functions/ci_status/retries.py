"""Flaky retries: re-request a failed check suite when the failure looks infrastructural
(issue 3 "CI gate"; GitHub REST "Check suites: Rerequest a check suite").

A CI failure is retried instead of concluded when **all** of these hold:

* ``policy.flaky_retry_max`` > 0 and fewer retries than that were made on this commit (counted
  from the effects outbox, so the bound survives restarts);
* every failing required check is a check run whose conclusion is in
  ``policy.flaky_retry_conclusions`` (``timed_out``, ``cancelled`` by default: a lost runner
  or an infrastructure timeout, not a test failure) and whose check suite is known;
* writes are allowed: the repository is on ``settings.github_write_allowlist``
  (case-insensitive, as for every write) and ``policy.dry_run`` is false (DESIGN §11).
  Otherwise the failure concludes, and the summary says why no retry was made.

Each retry is one guarded GitHub write (:func:`shared.effects.writes.github_write`: dry run,
allow-list, effects outbox, ``github.write_actions`` audit) keyed
``rerequest:<repo>@<sha>:<suite_id>:<n>`` (``n`` = 1.. per commit), so a redelivery never
re-requests twice and every retry, refused or dry-run one included, leaves its audit row; the
suite is then marked re-requested, which makes its current check runs read as pending until
the re-run reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.effects.writes import github_write
from shared.gates.ci import CiResult
from shared.github.checks import mark_suite_rerequested
from shared.policy.model import Policy
from shared.ports import GitHubWriter, WriteAnswer
from shared.runs import Run
from shared.runtime.outcomes import Context

#: The ``github.write_actions`` action of a retry; its effect kind is ``github.<action>``.
ACTION = "rerequest_check_suite"
EFFECT_KIND = f"github.{ACTION}"
#: The effect kind retries had before they went through the guarded write path; still counted.
LEGACY_EFFECT_KIND = "ci_rerequest"
EFFECT_KINDS = [EFFECT_KIND, LEGACY_EFFECT_KIND]

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
# The key range (byte order, up to the highest code point) lets index effects_key_prefix
# (migration 0014) serve the prefix match; left(…) = :prefix keeps it exact.
SQL_SAME_FAILURE = """
SELECT idempotency_key FROM runtime.effects
WHERE kind = ANY(:kinds) AND left(idempotency_key, length(:prefix)) = :prefix
  AND idempotency_key COLLATE "C" >= :prefix
  AND idempotency_key COLLATE "C" < :prefix || chr(1114111)
  AND request ->> 'after_id' = :after_id
"""
SQL_RETRIES_SO_FAR = """
SELECT count(*) AS n FROM runtime.effects
WHERE kind = ANY(:kinds) AND left(idempotency_key, length(:prefix)) = :prefix
  AND idempotency_key COLLATE "C" >= :prefix
  AND idempotency_key COLLATE "C" < :prefix || chr(1114111)
  AND state = 'done'
"""


@dataclass(frozen=True)
class RetryDecision:
    """What happened to a failure: ``retried`` suites (ids), or why none was (``skipped``)."""

    retried: list[int]
    skipped: str | None = None

    def evidence(self) -> dict[str, Any]:
        """For ``ci_summary.flaky_retry``."""
        return {"retried_suites": self.retried, "skipped": self.skipped}


def _rerequest(repo: str, suite_id: int) -> Callable[[GitHubWriter], WriteAnswer]:
    return lambda writer: writer.rerequest_check_suite(repo, suite_id)


def key_prefix(repository: str, sha: str) -> str:
    """The effects key prefix of every retry on one commit."""
    return f"rerequest:{repository}@{sha}:"


def maybe_retry(run: Run, result: CiResult, policy: Policy, ctx: Context) -> RetryDecision:
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
    repo, sha = run.commit()
    rows = ctx.tx.all(SQL_FAILING_RUNS, repository=repo, head_sha=sha, names=result.failing)
    infrastructural = {c.lower() for c in policy.flaky_retry_conclusions}
    failing = [r for r in rows if r["conclusion"] is not None]
    if len({r["name"] for r in failing}) < len(result.failing) or any(
        r["conclusion"].lower() not in infrastructural or r["suite_id"] is None for r in failing
    ):
        return RetryDecision([], "not_infrastructural")
    prefix = key_prefix(repo, sha)
    done = ctx.tx.one(SQL_RETRIES_SO_FAR, kinds=EFFECT_KINDS, prefix=prefix)
    count = int(done["n"]) if done else 0
    retried: list[int] = []
    skipped: str | None = None
    for suite_id in sorted({int(r["suite_id"]) for r in failing}):
        row = ctx.tx.one(SQL_SUITE_AFTER_ID, repository=repo, suite_id=suite_id)
        after_id = str(row["after_id"]) if row and row["after_id"] is not None else ""
        same = ctx.tx.one(
            SQL_SAME_FAILURE, kinds=EFFECT_KINDS, prefix=f"{prefix}{suite_id}:", after_id=after_id
        )
        if same is not None:
            key = str(same["idempotency_key"])
        elif count >= policy.flaky_retry_max:
            return RetryDecision(retried, "retry_limit_reached")
        else:
            count += 1
            key = f"{prefix}{suite_id}:{count}"
        write = github_write(
            ctx.tx,
            ctx.deps,
            key=key,
            action=ACTION,
            repository=repo,
            run_id=run.id,
            request={"head_sha": sha, "suite_id": suite_id, "after_id": after_id},
            dry_run=policy.dry_run,
            call=_rerequest(repo, suite_id),
        )
        if write.mode != "live":  # dry run or not allow-listed: recorded, not sent
            skipped = write.outcome
            continue
        if write.outcome != "success":  # GitHub refused (e.g. 422 not rerequestable): conclude
            answer = write.answer
            ctx.log.warning(
                "check suite re-request refused",
                extra={"status": answer.status if answer else None, "error": write.outcome},
            )
            return RetryDecision(retried, "rerequest_refused")
        mark_suite_rerequested(ctx.tx, repo, sha, suite_id)
        retried.append(suite_id)
    return RetryDecision(retried, skipped)
