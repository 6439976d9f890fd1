"""From failure reasons to prompt guidance: pure rules, no I/O (issue 5 "prompt-tune").

A reason code is *actionable* when a sentence in the agent's prompt could have avoided it (a
failing check, an unresolved review thread, a deleted test). Generic or infrastructure codes
(``judge_abstained``, ``mergeable_unknown``, ``missing_pull_request``, ``workflow_failed`` …)
say nothing the prompt can fix and never justify a prompt-tuning PR on their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: reason code → the guidance added to the prompt template.
GUIDANCE: dict[str, str] = {
    "ci_failed": "Run the repository's tests and linters before pushing; every required check"
    " must pass on the exact commit you push.",
    "ci_failure_ignored": "Never mark a failing check as acceptable; fix the cause instead.",
    "requirements_missing": "Re-read the issue and satisfy every acceptance criterion before"
    " opening the pull request; list each one in the PR body.",
    "unresolved_threads": "Answer every review thread with a code change or a reply, then"
    " resolve it.",
    "changes_requested": "Address every requested change from the AI reviewer before pushing.",
    "protected_path": "Do not modify protected paths (CI configuration, deploy manifests)"
    " unless the issue asks for it.",
    "test_removed": "Never delete or skip tests to make CI pass.",
    "test_file_deleted": "Never delete test files to make CI pass.",
    "assert_removed": "Never remove assertions from tests to make them pass.",
    "ci_check_removed": "Never remove CI checks or jobs.",
    "ci_config_deleted": "Never delete CI configuration.",
    "conflict_markers": "Resolve merge conflicts completely; no conflict markers may remain.",
    "merge_conflict": "Rebase on the latest base branch and resolve conflicts before pushing.",
    "empty_diff": "Make the change the issue asks for; an empty diff is never a solution.",
    "repeated_failure": "When an attempt fails the same way twice, change the approach instead"
    " of repeating it.",
}


def reason_counts(evaluations: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """How often each reason code occurs across ``evaluations`` (each with a ``reasons`` list of
    ``{code, message}``); a code counts once per evaluation."""
    counts: Counter[str] = Counter()
    for evaluation in evaluations:
        codes = {
            str(r.get("code"))
            for r in evaluation.get("reasons") or []
            if isinstance(r, dict) and r.get("code")
        }
        counts.update(codes)
    return counts


def actionable(counts: Counter[str]) -> list[tuple[str, int, str]]:
    """``(code, count, guidance)`` for every actionable code, most frequent first."""
    return [(code, n, GUIDANCE[code]) for code, n in counts.most_common() if code in GUIDANCE]


def tuned_template(current: str, suggestions: list[tuple[str, int, str]]) -> str:
    """``current`` with a "Lessons from recent failures" section listing the guidance; guidance
    already present in the template is not repeated."""
    lines = [f"- {text}" for _, _, text in suggestions if text not in current]
    if not lines:
        return current
    base = current.rstrip("\n")
    header = "## Lessons from recent failures"
    section = "\n".join(lines) if header in base else "\n".join([header, "", *lines])
    return (base + "\n\n" if base else "") + section + "\n"


def evidence_document(
    repository: str,
    window_h: int,
    evaluations: Sequence[Mapping[str, Any]],
    suggestions: list[tuple[str, int, str]],
) -> str:
    """The short evidence document added beside the template: the runs, reasons and verdicts."""
    out = [
        f"# Prompt-tuning evidence for {repository}",
        "",
        f"{len(evaluations)} failed evaluations in the last {window_h} hours.",
        "",
        "| run | issue | attempt | verdict | reasons |",
        "|---|---|---|---|---|",
    ]
    for e in evaluations:
        codes = ", ".join(str(r.get("code")) for r in e.get("reasons") or [] if isinstance(r, dict))
        out.append(
            f"| {e['run_id']} | #{e.get('issue_number') or '?'} | {e.get('attempt') or '?'}"
            f" | {e['decision']} | {codes or '-'} |"
        )
    out += ["", "## Suggested guidance", ""]
    out += [f"- `{code}` ({n} times): {text}" for code, n, text in suggestions]
    return "\n".join(out) + "\n"
