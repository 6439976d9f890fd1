"""Which Discord notice an event is, and its text for events other than a decision.

Kinds (issue 5 "discord"; ``policy.discord_kinds`` chooses which are posted):

* ``success`` — merged and verified: ``deploy.verified``, or ``pr.merged`` when the policy's
  ``deploy_mode`` is ``none`` (a dry-run merge is no success);
* ``needs_human`` — a ``needs_human`` decision, or an escalation outside the judge
  (``run.escalated``, e.g. ``submission_failed``);
* ``repeated_failure`` — a ``needs_human`` decision whose reasons include ``repeated_failure``;
* ``attempts_exhausted`` — ``run.escalated`` with that reason;
* ``deploy_failed`` — ``deploy.failed``;
* ``needs_iteration`` — a ``needs_iteration`` decision (posted only when the policy lists it).

The text keeps the links (issue, PR, merge commit, workflow) and trims the detail first, within
Discord's 2000 characters (Discord "Execute Webhook").
"""

from __future__ import annotations

from functions.discord.message import ELLIPSIS, MAX_CONTENT, WEB_URL, RunLinks
from shared.models.events import JudgeDecided

_TITLES = {
    "success": "✅ MERGED AND VERIFIED",
    "deploy_failed": "💥 DEPLOY FAILED",
    "attempts_exhausted": "🛑 ATTEMPTS EXHAUSTED",
    "needs_human": "🚨 NEEDS HUMAN",
    "repeated_failure": "🔂 REPEATED FAILURE",
}


def decision_kind(decided: JudgeDecided) -> str | None:
    """The notice kind of a decision, or None for a pass (success waits for the deploy)."""
    if decided.decision == "pass":
        return None
    if decided.decision == "needs_human" and any(
        r.code == "repeated_failure" for r in decided.reasons
    ):
        return "repeated_failure"
    return decided.decision


def escalation_kind(reason: str) -> str:
    """The notice kind of a ``run.escalated`` reason."""
    return "attempts_exhausted" if reason == "attempts_exhausted" else "needs_human"


def build_notice(
    kind: str, run_id: int, run: RunLinks, *, detail: str, commit_sha: str | None = None
) -> str:
    """The message for a non-decision notice; at most 2000 characters, links kept whole."""
    repo = run.repository or "unknown repository"
    head = f"**codex-judge {_TITLES.get(kind, kind)}** · {repo}"
    head += f"#{run.issue_number}" if run.issue_number else ""
    head += f" · attempt {run.attempt}" if run.attempt else ""
    head += f" · run {run_id}"
    links = []
    if run.issue_url or (run.repository and run.issue_number):
        links.append(f"Issue: <{run.issue_url or f'{WEB_URL}/{repo}/issues/{run.issue_number}'}>")
    if run.pr_url or (run.repository and run.pr_number):
        links.append(f"PR: <{run.pr_url or f'{WEB_URL}/{repo}/pull/{run.pr_number}'}>")
    if commit_sha and run.repository:
        links.append(f"Commit: <{WEB_URL}/{repo}/commit/{commit_sha}>")
    if run.workflow_url:
        links.append(f"Workflow: <{run.workflow_url}>")
    fixed = "\n".join([head, *links])
    room = MAX_CONTENT - len(fixed) - 1
    if room <= 0:
        return fixed[:MAX_CONTENT]
    if len(detail) > room:
        detail = detail[: max(0, room - len(ELLIPSIS))].rstrip() + ELLIPSIS
    return f"{fixed}\n{detail}" if detail else fixed
