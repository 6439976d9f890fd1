"""``codex-judge explain RUN``: a run's sealed decision record, human-readable (issue 4 "Sealed
decision record"; DESIGN §1: every verdict can be explained later).

Reads the run row and its final evaluation (``codex_judge.evaluations``, columns of migrations
0001 and 0004) and prints what the judge saw and decided: the SHAs, check runs, review threads,
diff hash and source, effective policy hash, prompt template version, model, tokens and cost,
the anti-gaming findings with their before/after evidence, the failure fingerprint, the reasons
and the next prompt; then each artifact of the run with where it was read from and the source of
every file list and log excerpt taken from it (:mod:`shared.artifacts.explain`). Secrets in free
text are redacted
again on output (the record may predate a redaction rule).
"""

from __future__ import annotations

from typing import Any

from shared.artifacts.explain import render_artifacts
from shared.artifacts.records import run_artifacts
from shared.db import Tx
from shared.gates.redact import redact
from shared.github.worktrees import WorktreeRecord, worktrees_of
from shared.runs import Run, get_run

__all__ = ["explain_run", "render"]

SQL_EVALUATION = """
SELECT id, decision, reasons, next_prompt, judge_kind, model, confidence, policy_hash, seal,
       fingerprint, fingerprint_parts, prompt_tokens, completion_tokens, model_calls, cost_usd,
       diff_source, diff_hash, prompt_template_version, inputs, created_at
FROM codex_judge.evaluations WHERE run_id = :id AND stage = 'final'
"""


def _short(sha: Any) -> str:
    return str(sha)[:12] if sha else "-"


def diff_label(evaluation: dict[str, Any]) -> str:
    """Where the evaluation's file list came from (``worktree``, ``github``, a note, the
    fallback reason), from its ``diff_source`` and ``inputs``."""
    inputs = evaluation["inputs"] or {}
    label = str(evaluation["diff_source"] or inputs.get("diff_source") or "-")
    if inputs.get("diff_note"):
        label += f": {inputs['diff_note']}"
    if inputs.get("diff_fallback") and label.split(":")[0] != "worktree":
        label += f"; fallback because {inputs['diff_fallback']}"
    return label


def render_file_lists(records: list[WorktreeRecord]) -> list[str]:
    """The "File lists" section: per head SHA, the worktree snapshot (merge base, file count,
    where) or why it failed, and whether GitHub's file list was recorded as the fallback."""
    if not records:
        return []
    lines = ["", "File lists (github.pr_files by head SHA and source):"]
    for r in records:
        if r.status == "ready":
            lines.append(
                f"  - {_short(r.head_sha)}: source worktree, {r.file_count} file(s) from merge "
                f"base {_short(r.merge_base_sha)} of {r.base_ref} (snapshot {r.name}, "
                f"refreshed {r.refreshed_at:%Y-%m-%d %H:%M:%S})"
            )
        else:
            lines.append(
                f"  - {_short(r.head_sha)}: worktree failed: {redact(r.detail or '').text}"
            )
        if r.github_files:
            lines.append(f"      source github (labelled fallback): {r.github_files} file(s)")
    return lines


def _findings(inputs: dict[str, Any]) -> list[str]:
    """The anti-gaming findings and warnings the gates recorded (``gate_findings``,
    ``gate_warnings`` of :meth:`shared.gates.judge.GateReport.record`), each with where it is
    and its before/after evidence."""
    out: list[str] = []
    source = inputs.get("antigaming_source")
    for title, key in (("Anti-gaming findings", "gate_findings"), ("Warnings", "gate_warnings")):
        found = inputs.get(key) or []
        if not found:
            continue
        out.append(f"{title}" + (f" (from {source})" if source else "") + ":")
        for f in found:
            where = f"{f.get('file')}:{f['line']}" if f.get("line") is not None else f.get("file")
            severity = f.get("severity") or "error"
            out.append(
                f"  - {f.get('code')} [{severity}] {where}: {redact(f.get('message') or '').text}"
            )
            if f.get("before") is not None or f.get("after") is not None:
                out.append(f"      before: {redact(str(f.get('before') or '-')).text}")
                out.append(f"      after:  {redact(str(f.get('after') or '-')).text}")
    return out


def render(run: Run, evaluation: dict[str, Any] | None) -> str:
    """The explanation text for one run and its final evaluation (None: not judged yet)."""
    lines = [
        f"Run {run.id}  {run.repository or '?'} issue #{run.issue_number or '?'} "
        f"attempt {run.attempt or '?'}  PR #{run.pr_number or '?'}",
        f"  workflow {run.workflow_name or run.workflow_uid}  status {run.status}"
        + (f" ({run.reason})" if run.reason else ""),
    ]
    if evaluation is None:
        lines.append("  not judged yet: no sealed evaluation")
        return "\n".join(lines)
    seal = evaluation["seal"] or {}
    confidence = evaluation["confidence"]
    lines += [
        "",
        f"Decision: {evaluation['decision']}  (judge {evaluation['judge_kind']}"
        + (f", model {evaluation['model']}" if evaluation["model"] else "")
        + (f", confidence {confidence:.2f}" if confidence is not None else "")
        + f")  evaluation {evaluation['id']} at {evaluation['created_at']}",
        "Reasons:",
        *[f"  - {r['code']}: {redact(r['message']).text}" for r in evaluation["reasons"] or []],
        "",
        "Sealed record:",
        f"  head SHA        {seal.get('head_sha') or run.head_sha or '-'}",
        f"  base SHA        {seal.get('base_sha') or '-'}",
        f"  diff            {_short(evaluation['diff_hash'] or seal.get('diff_hash'))} "
        f"(source {diff_label(evaluation)})",
        f"  policy hash     {_short(evaluation['policy_hash'])}",
        f"  prompt template {evaluation['prompt_template_version'] or '-'}",
        f"  model tokens    {evaluation['prompt_tokens']} in + {evaluation['completion_tokens']} "
        f"out in {evaluation['model_calls']} call(s)"
        + (f", ${evaluation['cost_usd']}" if evaluation["cost_usd"] is not None else ""),
    ]
    checks = seal.get("check_runs")
    if checks is None:
        lines.append("  check runs      (not read: decided before CI)")
    else:
        lines.append(f"  check runs      {len(checks)}")
        lines += [
            f"    - {c['name']} [{c['kind']}"
            + (f" {c['app']}" if c.get("app") else "")
            + (f" #{c['id']}" if c.get("id") is not None else "")
            + f"]: {c.get('conclusion') or c.get('status')}"
            for c in checks
        ]
    threads = seal.get("review_threads")
    if threads is not None:
        lines.append(f"  review threads  {len(threads)}")
        lines += [
            f"    - {t['id']}: {'resolved' if t['resolved'] else 'unresolved'}"
            + (" (outdated)" if t.get("outdated") else "")
            for t in threads
        ]
    lines += _findings(evaluation.get("inputs") or {})
    parts = evaluation["fingerprint_parts"] or []
    if evaluation["fingerprint"]:
        lines += [f"Failure fingerprint {_short(evaluation['fingerprint'])}:"]
        lines += [f"  - {p}" for p in parts]
    if evaluation["next_prompt"]:
        lines += ["", "Next prompt:"]
        lines += [f"  {line}" for line in redact(evaluation["next_prompt"]).text.splitlines()]
    return "\n".join(lines)


def explain_run(tx: Tx, run_id: int) -> str | None:
    """The explanation of run ``run_id``, or None when there is no such run."""
    run = get_run(tx, run_id)
    if run is None:
        return None
    text = render(run, tx.one(SQL_EVALUATION, id=run_id))
    lists: list[WorktreeRecord] = []
    if run.repository and run.pr_number:
        lists = worktrees_of(tx, run.repository, run.pr_number)
    return "\n".join(
        [text, *render_file_lists(lists), *render_artifacts(run_artifacts(tx, run_id))]
    )
