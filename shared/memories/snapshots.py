"""The ten memory snapshots of one evaluation: pure functions of the run and rows read from
Postgres.

Kinds (issue 4 "Memories"; the reference's ``writeMemories`` wrote run summary, decision,
prompt, next prompt, four log excerpts, review status and PR info — here the four log excerpts
are one snapshot and CI summary, reasons and agent messages complete the ten):

=================  ===================================================================
kind               content
=================  ===================================================================
run_summary        status, decision, CI and review verdicts, attempt, phase, summary
decision           the evaluation row (policy, inputs and seal documents left out)
prompt             the agent's prompt (notify payload, else the workflow parameter)
next_prompt        the evaluation's next prompt
log_excerpt        the notify ``log_excerpt`` (text, or output/agent/runtime/events)
review_status      review verdict and summary
pr_info            PR number, URL, refs, head SHA, title and mergeable state
ci_summary         CI verdict and per-check summary
reasons            the evaluation's reasons, one per line
agent_messages     the last agent messages of the Codex exec stream
=================  ===================================================================

Namespace ``codex:<owner/name>:<issue>``; tags and metadata follow the reference (``codex``,
the repository, ``issue-N``, ``workflow-<name>``, ``attempt-N``, the run status) plus the
decision. Every text is redacted (:func:`shared.gates.redact.redact`, DESIGN §11) before it is
stored or sent to an embeddings endpoint, and capped at :data:`MAX_CONTENT_CHARS` (logs keep their
tail).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.gates.redact import redact
from shared.runs.model import Run

MAX_CONTENT_CHARS = 6000
#: Agent messages kept for the agent_messages snapshot (the newest ones).
MAX_AGENT_MESSAGES = 20
KINDS: tuple[str, ...] = (
    "run_summary",
    "decision",
    "prompt",
    "next_prompt",
    "log_excerpt",
    "review_status",
    "pr_info",
    "ci_summary",
    "reasons",
    "agent_messages",
)
SUMMARIES: dict[str, str] = {
    "run_summary": "Run summary",
    "decision": "Decision",
    "prompt": "Prompt",
    "next_prompt": "Next prompt",
    "log_excerpt": "Log excerpt",
    "review_status": "Review status",
    "pr_info": "PR info",
    "ci_summary": "CI summary",
    "reasons": "Reasons",
    "agent_messages": "Agent messages",
}
_LOG_SECTIONS = ("status", "output", "agent", "runtime", "events")
_DECISION_OMIT = frozenset({"policy", "inputs", "seal"})


@dataclass(frozen=True)
class Snapshot:
    """One memory: ``kind`` (one of :data:`KINDS`), its title and redacted, capped content."""

    kind: str
    summary: str
    content: str

    def embedding_text(self) -> str:
        """What is embedded: the title then the content."""
        return f"{self.summary}\n{self.content}"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _cap(text: str, *, keep_tail: bool = False) -> str:
    text = redact(text).text
    if len(text) <= MAX_CONTENT_CHARS:
        return text
    marker = "…[truncated]…"
    room = MAX_CONTENT_CHARS - len(marker)
    return marker + text[-room:] if keep_tail else text[:room] + marker


def namespace(run: Run) -> str:
    """``codex:<owner/name>:<issue>`` (``unknown`` for a missing part)."""
    return f"codex:{run.repository or 'unknown'}:{run.issue_number or 'unknown'}"


def tags(run: Run, evaluation: Mapping[str, Any]) -> list[str]:
    """The reference's tags plus ``decision-<decision>``; empty ones dropped."""
    values = [
        "codex",
        str(run.repository or ""),
        f"issue-{run.issue_number or 'unknown'}",
        f"workflow-{run.workflow_name or 'unknown'}",
        f"attempt-{run.attempt or 'unknown'}",
        str(run.status or ""),
        f"decision-{evaluation.get('decision')}",
    ]
    return [tag for tag in values if tag]


def metadata(run: Run, evaluation: Mapping[str, Any], embedder_kind: str) -> dict[str, Any]:
    """The reference's per-run metadata (ids, commit, workflow, times, UTC ISO 8601) plus the
    evaluation and what embedded it."""
    fields = (
        "workflow_uid",
        "workflow_name",
        "repository",
        "issue_number",
        "attempt",
        "head_sha",
        "pr_number",
        "pr_url",
        "workflow_url",
        "finished_at",
        "created_at",
        "updated_at",
    )
    out: dict[str, Any] = {"run_id": run.id, "workflow_namespace": run.namespace}
    out.update({name: getattr(run, name) for name in fields})
    out.update(
        evaluation_id=evaluation.get("id"),
        decision=evaluation.get("decision"),
        judge_kind=evaluation.get("judge_kind"),
        evaluated_at=evaluation.get("created_at"),
        embedder_kind=embedder_kind,
    )
    jsonable: dict[str, Any] = json.loads(json.dumps(out, default=str))  # datetimes → ISO text
    return jsonable


def _notify(run: Run) -> dict[str, Any]:
    return dict(run.notify_payload)


def _prompt(run: Run) -> str:
    from_params = run.parameters.get("prompt")
    return str(_notify(run).get("prompt") or from_params or "n/a")


def _log_excerpt(run: Run) -> str:
    notify = _notify(run)
    raw = notify.get("log_excerpt") or notify.get("logs")
    if isinstance(raw, str) and raw.strip():
        return raw
    if isinstance(raw, Mapping):
        parts = [
            f"[{name}]\n{raw[name]}"
            for name in _LOG_SECTIONS
            if isinstance(raw.get(name), str) and raw[name].strip()
        ]
        if parts:
            return "\n\n".join(parts)
    return "n/a"


def _run_summary(run: Run, evaluation: Mapping[str, Any]) -> str:
    summary = _notify(run).get("summary")
    lines = [
        f"Repository: {run.repository} issue {run.issue_number} attempt {run.attempt}",
        f"Status: {run.status} Decision: {evaluation.get('decision')} "
        f"Reason: {run.reason or 'n/a'}",
        f"CI: {run.ci_verdict or 'n/a'} Review: {run.review_verdict or 'n/a'}",
        f"Workflow: {run.workflow_name} phase {run.phase}",
        f"Agent summary: {summary or 'n/a'}",
    ]
    return "\n".join(lines)


def _pr_info(run: Run, pr: Mapping[str, Any] | None) -> str:
    if not run.pr_number and not run.pr_url:
        return "no PR"
    info = {
        "pr_number": run.pr_number,
        "pr_url": run.pr_url,
        "head_ref": run.head_ref,
        "base_ref": run.base_ref,
        "head_sha": run.head_sha,
    }
    if pr:
        for name in ("title", "state", "merged", "mergeable_state", "html_url"):
            info[name] = pr.get(name)
    return _json(info)


def _reasons(evaluation: Mapping[str, Any]) -> str:
    reasons = evaluation.get("reasons") or []
    lines = [
        f"- {r.get('code')}: {r.get('message')}" if isinstance(r, Mapping) else f"- {r}"
        for r in reasons
    ]
    return "\n".join(lines) or "no reasons recorded"


def _agent_messages(messages: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        f"[{m.get('seq')}] {m.get('kind')}: {m.get('content')}"
        for m in messages[-MAX_AGENT_MESSAGES:]
        if m.get("content")
    ]
    return "\n".join(lines) or "n/a"


def build_snapshots(
    run: Run,
    evaluation: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    pr: Mapping[str, Any] | None = None,
) -> list[Snapshot]:
    """The ten snapshots, in :data:`KINDS` order; never fewer (missing parts read ``n/a``).

    Args:
        run: the run.
        evaluation: the ``codex_judge.evaluations`` row.
        messages: ``workflow_comms.agent_messages`` rows (``seq``, ``kind``, ``content``),
            oldest first.
        pr: the ``github.pr_state`` row of the run's PR, when projected.
    """
    decision = {k: v for k, v in evaluation.items() if k not in _DECISION_OMIT}
    review = {"verdict": run.review_verdict, "summary": run.review_summary or {}}
    ci = {"verdict": run.ci_verdict, "summary": run.ci_summary or {}}
    contents = {
        "run_summary": _cap(_run_summary(run, evaluation)),
        "decision": _cap(_json(decision)),
        "prompt": _cap(_prompt(run)),
        "next_prompt": _cap(str(evaluation.get("next_prompt") or "n/a")),
        "log_excerpt": _cap(_log_excerpt(run), keep_tail=True),
        "review_status": _cap(_json(review)),
        "pr_info": _cap(_pr_info(run, pr)),
        "ci_summary": _cap(_json(ci)),
        "reasons": _cap(_reasons(evaluation)),
        "agent_messages": _cap(_agent_messages(messages), keep_tail=True),
    }
    return [Snapshot(kind, SUMMARIES[kind], contents[kind]) for kind in KINDS]
