"""The CI verdict for one commit (DESIGN §12 items 3-4).

Input is every check on the run's **exact head SHA**: check runs (all pages) and commit status
contexts, already reduced to the newest per (kind, name, app) by the projection. Rules:

* the required set is the policy's ``required_checks``, or every reported check when empty;
* a required check not yet reported, or reported but not completed, is **pending**;
* zero checks at all is **pending**, never success;
* ``neutral``/``skipped`` pass or fail by the policy, through
  :meth:`shared.policy.Policy.conclusion_passes` only;
* a required check that concluded and did not pass makes the verdict **failure** at once
  (its conclusion is final; waiting for the others would only delay the next attempt);
* **success** only when every required check concluded and passed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from shared.models.events import CheckSummary
from shared.policy import Policy

CiState = Literal["success", "failure", "pending"]


@dataclass(frozen=True)
class CiResult:
    """The verdict with its evidence.

    Attributes:
        verdict: success | failure | pending.
        failing: names of required checks that concluded and did not pass (sorted).
        pending: names of required checks missing or still running (sorted).
        checks: every check considered, sorted by (name, kind, app).
    """

    verdict: CiState
    failing: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    checks: list[CheckSummary] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """Whether the verdict is concluded (success or failure)."""
        return self.verdict != "pending"

    def summary(self) -> dict[str, object]:
        """A JSON-friendly summary for ``runs.ci_summary`` and evaluation inputs."""
        return {
            "verdict": self.verdict,
            "failing": self.failing,
            "pending": self.pending,
            "checks": [c.model_dump(mode="json") for c in self.checks],
        }


def ci_verdict(checks: Iterable[CheckSummary], policy: Policy) -> CiResult:
    """Compute the CI verdict of one commit from its checks under ``policy``."""
    ordered = sorted(checks, key=lambda c: (c.name, c.kind, c.app or ""))
    by_name: dict[str, list[CheckSummary]] = {}
    for check in ordered:
        by_name.setdefault(check.name, []).append(check)
    required = policy.required_check_names() or list(by_name)
    if not required:
        return CiResult("pending", pending=[], checks=ordered)
    failing: list[str] = []
    pending: list[str] = []
    for name in required:
        reported = by_name.get(name, [])
        if not reported:
            pending.append(name)
            continue
        if any(_done(c) and not policy.conclusion_passes(c.conclusion) for c in reported):
            failing.append(name)
        elif any(not _done(c) for c in reported):
            pending.append(name)
    if failing:
        return CiResult("failure", sorted(failing), sorted(pending), ordered)
    if pending:
        return CiResult("pending", [], sorted(pending), ordered)
    return CiResult("success", [], [], ordered)


def _done(check: CheckSummary) -> bool:
    return check.status == "completed"


def failure_prompt(summary: dict[str, object], policy: Policy) -> str:
    """The next prompt for a CI failure, from a stored :meth:`CiResult.summary`: each failing
    check with its conclusion and link, in name order."""
    lines = ["CI failed on the pull request's head commit. Fix these failing checks:"]
    failing = {str(name) for name in summary.get("failing") or []}  # type: ignore[attr-defined]
    for raw in summary.get("checks") or []:  # type: ignore[attr-defined]
        check = CheckSummary.model_validate(raw)
        if (
            check.name in failing
            and _done(check)
            and not policy.conclusion_passes(check.conclusion)
        ):
            link = f" ({check.details_url})" if check.details_url else ""
            lines.append(f"- {check.name}: {check.conclusion}{link}")
    return "\n".join(lines)
