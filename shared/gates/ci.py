"""The CI verdict for one commit (DESIGN §9, §12 items 3-4; issue 3 "CI gate").

Input is every check on the run's **exact head SHA**: check runs (all pages) and commit status
contexts, already reduced to the newest per (kind, name, app) by the projection, plus the app
slugs of check suites still running. Rules:

* the required set is the policy's ``required_checks``, or every reported check when empty;
* a required check may be **pinned** to a GitHub App (``app_slug``/``app_id``): a check of
  that name from another app (or a commit status, which has no app) does not satisfy it and is
  reported in ``wrong_app``; the check stays pending until the pinned app reports it;
* a required check not yet reported is **pending**, never absent; zero checks is pending;
* each check's outcome comes from :func:`check_outcome` only, the one place where conclusions
  are read: ``success`` passes; ``neutral``/``skipped`` pass or fail by the policy;
  ``stale`` and ``action_required`` are pending or failure by the policy; ``failure``,
  ``timed_out``, ``cancelled`` (and status ``error``/``failure``) fail; anything not completed
  is pending;
* with no required list, a check suite that has check runs and is not completed keeps the
  verdict pending (its runs may not be reported yet);
* a required check that concluded and did not pass makes the verdict **failure** at once;
* **success** only when every required check concluded and passed.

The base-freshness rule (verdict ``stale_base``) needs GitHub's compare answer and is applied
by the use case on top of a success (:func:`base_is_stale`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shared.models.events import CheckSummary
from shared.policy.model import Policy, RequiredCheck

CiState = Literal["success", "failure", "pending", "stale_base"]
Outcome = Literal["pass", "fail", "pending"]

# GitHub REST "Check runs": conclusions that fail whatever the policy says.
_ALWAYS_FAIL = frozenset({"failure", "timed_out", "cancelled", "error", "startup_failure"})


@dataclass(frozen=True)
class CiResult:
    """The verdict with its evidence.

    Attributes:
        verdict: success | failure | pending | stale_base.
        failing: names of required checks that concluded and did not pass (sorted).
        pending: names of required checks missing or still running (sorted).
        checks: every check considered, sorted by (name, kind, app).
        wrong_app: required check names reported by an app other than the pinned one (sorted).
        base: for stale_base, the compare facts (``base_sha``, ``behind_by``, ``hours_behind``).
    """

    verdict: CiState
    failing: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    checks: list[CheckSummary] = field(default_factory=list)
    wrong_app: list[str] = field(default_factory=list)
    base: dict[str, Any] | None = None

    @property
    def final(self) -> bool:
        """Whether the verdict is concluded (anything but pending)."""
        return self.verdict != "pending"

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary for ``runs.ci_summary`` and evaluation inputs."""
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "failing": self.failing,
            "pending": self.pending,
            "wrong_app": self.wrong_app,
            "checks": [c.model_dump(mode="json") for c in self.checks],
        }
        if self.base is not None:
            out["base"] = self.base
        return out


def check_outcome(check: CheckSummary, policy: Policy) -> Outcome:
    """Whether one check passes, fails or is still pending under ``policy`` (module rules)."""
    if check.status != "completed":
        return "pending"
    value = (check.conclusion or "").lower()
    if value in _ALWAYS_FAIL:
        return "fail"
    if value == "stale":
        return "pending" if policy.stale_is == "pending" else "fail"
    if value == "action_required":
        return "pending" if policy.action_required_is == "pending" else "fail"
    return "pass" if policy.conclusion_passes(value) else "fail"


def satisfies_pin(check: CheckSummary, required: RequiredCheck) -> bool:
    """Whether ``check`` comes from the app ``required`` is pinned to (always, when unpinned)."""
    if required.app_slug is None and required.app_id is None:
        return True
    if check.kind != "check_run":
        return False
    if required.app_slug is not None and (check.app or "").lower() != required.app_slug.lower():
        return False
    return required.app_id is None or check.app_id == required.app_id


def ci_verdict(
    checks: Iterable[CheckSummary], policy: Policy, open_suites: Sequence[str] = ()
) -> CiResult:
    """Compute the CI verdict of one commit from its checks under ``policy``.

    Args:
        checks: the commit's projected checks.
        policy: the repository's effective policy.
        open_suites: app slugs of check suites with check runs that are not completed.
    """
    ordered = sorted(checks, key=lambda c: (c.name, c.kind, c.app or ""))
    by_name: dict[str, list[CheckSummary]] = {}
    for check in ordered:
        by_name.setdefault(check.name, []).append(check)
    required = list(policy.required_checks) or [RequiredCheck(name=name) for name in by_name]
    if not required:
        return CiResult("pending", checks=ordered)
    failing: set[str] = set()
    pending: set[str] = set()
    wrong_app: set[str] = set()
    for rule in required:
        reported = by_name.get(rule.name, [])
        pinned = [c for c in reported if satisfies_pin(c, rule)]
        if len(pinned) < len(reported):
            wrong_app.add(rule.name)
        outcomes = {check_outcome(c, policy) for c in pinned}
        if "fail" in outcomes:
            failing.add(rule.name)
        elif not pinned or "pending" in outcomes:
            pending.add(rule.name)
    if failing:
        return CiResult("failure", sorted(failing), sorted(pending), ordered, sorted(wrong_app))
    if not policy.required_checks and open_suites:
        pending.update(f"check suite of {slug or 'an app'}" for slug in open_suites)
    if pending:
        return CiResult("pending", [], sorted(pending), ordered, sorted(wrong_app))
    return CiResult("success", [], [], ordered, sorted(wrong_app))


def base_is_stale(
    policy: Policy,
    *,
    behind_by: int,
    merge_base_at: datetime | None,
    base_tip_at: datetime | None,
) -> tuple[bool, float | None]:
    """The optional base-freshness rule: is the merge base CI ran on too far behind?

    Args:
        behind_by: commits the target branch has that the head lacks (compare ``behind_by``).
        merge_base_at / base_tip_at: committer dates (UTC) of the merge base and of the target
            branch's tip.

    Returns:
        ``(stale, hours_behind)``; ``hours_behind`` is None when a date is unknown.
    """
    hours: float | None = None
    if merge_base_at is not None and base_tip_at is not None:
        hours = max(0.0, (base_tip_at - merge_base_at).total_seconds() / 3600.0)
    too_many = policy.base_max_commits_behind is not None and (
        behind_by > policy.base_max_commits_behind
    )
    too_old = (
        policy.base_max_hours_behind is not None
        and hours is not None
        and hours > policy.base_max_hours_behind
    )
    return too_many or too_old, hours


def failure_prompt(summary: dict[str, object], policy: Policy) -> str:
    """The next prompt for a CI failure, from a stored :meth:`CiResult.summary`: each failing
    check with its conclusion and link, in name order; a stale base names the base SHA."""
    if summary.get("verdict") == "stale_base":
        raw_base = summary.get("base")
        base: dict[str, Any] = raw_base if isinstance(raw_base, dict) else {}
        return (
            "CI ran on a merge base that is too far behind the target branch "
            f"(merge base {base.get('base_sha')}, {base.get('behind_by')} commits behind). "
            "Rebase the branch on the target branch and push again."
        )
    lines = ["CI failed on the pull request's head commit. Fix these failing checks:"]
    failing = {str(name) for name in summary.get("failing") or []}  # type: ignore[attr-defined]
    for raw in summary.get("checks") or []:  # type: ignore[attr-defined]
        check = CheckSummary.model_validate(raw)
        if check.name in failing and check_outcome(check, policy) == "fail":
            link = f" ({check.details_url})" if check.details_url else ""
            lines.append(f"- {check.name}: {check.conclusion}{link}")
    return "\n".join(lines)
