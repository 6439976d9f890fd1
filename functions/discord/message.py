"""The Discord message for one decision: pure formatting, no I/O.

One message per (run, decision) within Discord's 2000-character limit (Discord "Execute
Webhook": ``content`` is at most 2000 characters). Links are never cut: when the message is too
long the reasons are trimmed first, then the next prompt; only when the links alone do not fit
is the artifact list shortened (``… and N more artifacts``). Links are wrapped in ``<…>`` so
Discord shows no embed previews (Discord "Message Formatting").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.models.events import JudgeDecided

MAX_CONTENT = 2000
WEB_URL = "https://github.com"
ELLIPSIS = "…"
_TITLES = {
    "pass": "✅ PASS",
    "needs_iteration": "🔁 NEEDS ITERATION",
    "needs_human": "🚨 NEEDS HUMAN",
}


@dataclass(frozen=True)
class RunLinks:
    """What the message links to, read from ``codex_judge.runs`` and ``artifacts``."""

    repository: str | None = None
    issue_number: int | None = None
    issue_url: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    head_sha: str | None = None
    workflow_url: str | None = None
    attempt: int | None = None
    ci_summary: dict[str, Any] | None = None
    artifacts: list[tuple[str, str]] = field(default_factory=list)


def _link_lines(decision: JudgeDecided, run: RunLinks) -> list[str]:
    repo = run.repository or decision.repository
    issue = run.issue_number or decision.issue_number
    pr = run.pr_number or decision.pr_number
    sha = run.head_sha or decision.head_sha
    lines: list[str] = []
    issue_url = run.issue_url or (f"{WEB_URL}/{repo}/issues/{issue}" if repo and issue else None)
    if issue_url:
        lines.append(f"Issue: <{issue_url}>")
    pr_url = run.pr_url or (f"{WEB_URL}/{repo}/pull/{pr}" if repo and pr else None)
    if pr_url:
        lines.append(f"PR: <{pr_url}>")
    if repo and sha:
        verdict = (run.ci_summary or {}).get("verdict")
        label = f"CI ({verdict})" if isinstance(verdict, str) else "CI"
        lines.append(f"{label}: <{WEB_URL}/{repo}/commit/{sha}/checks>")
    if run.workflow_url:
        lines.append(f"Workflow: <{run.workflow_url}>")
    return lines


def _artifact_lines(run: RunLinks, budget: int) -> list[str]:
    lines = [f"Artifact {name}: <{url}>" for name, url in run.artifacts]
    while lines and sum(len(x) + 1 for x in lines) > budget:
        dropped = len(run.artifacts) - len(lines) + 1
        lines = lines[:-1]
        marker = f"… and {dropped} more artifacts"
        if sum(len(x) + 1 for x in lines) + len(marker) + 1 <= budget:
            return [*lines, marker]
    return lines


def _trim(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    return text[: max(0, room - len(ELLIPSIS))].rstrip() + ELLIPSIS if room > 0 else ""


def build_message(decision: JudgeDecided, run: RunLinks) -> str:
    """The message text for ``decision`` about ``run``; at most 2000 characters.

    Shape::

        **codex-judge ✅ PASS** · owner/repo#12 · attempt 2 · judge llm
        Issue: <…>  PR: <…>  CI (success): <…/commit/<sha>/checks>  Workflow: <…>
        Artifact <name>: <url>
        Reasons:
        - ci_failed: …
        Next prompt:
        > …
    """
    repo = run.repository or decision.repository or "unknown repository"
    issue = run.issue_number or decision.issue_number
    attempt = run.attempt or decision.attempt
    head = f"**codex-judge {_TITLES.get(decision.decision, decision.decision)}** · {repo}"
    head += f"#{issue}" if issue else ""
    head += f" · attempt {attempt}" if attempt else ""
    head += f" · judge {decision.judge_kind} · run {decision.run_id}"
    links = _link_lines(decision, run)
    fixed = [head, *links]
    budget = MAX_CONTENT - sum(len(x) + 1 for x in fixed)
    fixed += _artifact_lines(run, budget)
    room = MAX_CONTENT - len("\n".join(fixed))

    reasons = "\n".join(f"- {r.code}: {r.message}" for r in decision.reasons)
    prompt = "\n".join(f"> {line}" for line in (decision.next_prompt or "").splitlines())
    parts: list[str] = []
    # Reasons are shown before the next prompt, and each gets at least a share of the room.
    if reasons:
        section = "Reasons:\n"
        prompt_need = len(prompt) + len("Next prompt:\n") + 2
        share = room if not prompt else max(room // 2, room - prompt_need)
        body = _trim(reasons, share - len(section) - 1)
        if body:
            parts.append(section + body)
            room -= len(parts[-1]) + 1
    if prompt:
        section = "Next prompt:\n"
        body = _trim(prompt, room - len(section) - 1)
        if body:
            parts.append(section + body)
    return "\n".join([*fixed, *parts])[:MAX_CONTENT]
