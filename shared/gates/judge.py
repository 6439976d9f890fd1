"""The judge's deterministic gates and the offline judge (DESIGN §4 judge, §11, §12).

Gates need only the pull request's files and the run's notify payload, and decide at once when
they fail; nothing the PR says can override them. :func:`gate_report` runs them all: empty diff,
conflict markers, patch-apply failures, unmerged paths, protected paths (RE2, → needs_human) and
the anti-gaming gate (:mod:`shared.gates.antigaming`, outcome per policy, ``strict`` turns
warnings into failures). The files come from GitHub's file list or from the merge-base diff of
:mod:`shared.gates.diff`. ``final_verdict`` then applies CI, review and
mergeability; when all of them pass, the offline judge (no language model configured) passes
the run and says so, labelled ``offline`` in the evaluation.

Sources: GitHub REST "List pull request files" (``patch`` is a unified diff per file and is
absent for binary or very large files); git's conflict markers are seven ``<``, ``=`` or ``>``
at the start of a line (git-merge(1) "HOW CONFLICTS ARE PRESENTED"); ``git apply`` reports
"error: patch failed: <file>:<line>" and "<file>: patch does not apply", GNU patch reports
"Hunk #N FAILED at <line>".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import re2

from shared.gates.antigaming import Finding, antigaming_findings
from shared.gates.ci import failure_prompt
from shared.gates.inventory import ChangeSnapshot, inventory_findings, inventory_questions
from shared.models.events import Reason
from shared.models.github import PullFile
from shared.policy.model import Policy

Decision = Literal["pass", "needs_iteration", "needs_human"]

_CONFLICT_OPEN_CLOSE = re.compile(r"^\+(<{7}|>{7})(?: |$)")
_PATCH_FAILURE = re.compile(
    r"error: patch failed|patch does not apply|does not apply|Hunk #\d+ FAILED", re.IGNORECASE
)


@dataclass(frozen=True)
class Verdict:
    """A decision with its reasons and, for ``needs_iteration``, what the next attempt must do."""

    decision: Decision
    reasons: list[Reason]
    next_prompt: str | None = None
    judge_kind: Literal["deterministic", "offline", "llm"] = "deterministic"
    model: str | None = None
    confidence: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _reason(code: str, message: str) -> Reason:
    return Reason(code=code, message=message)


def diff_hash(files: Iterable[PullFile]) -> str:
    """SHA-256 (64 hex) over (filename, status, patch) of every file, in filename order."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.filename):
        digest.update(f"{f.filename}\0{f.status}\0{f.patch or ''}\0".encode())
    return digest.hexdigest()


def has_no_op_marker(summary: str | None, policy: Policy) -> bool:
    """Whether the agent's summary carries one of the policy's no-op markers."""
    return bool(summary) and any(m and m in (summary or "") for m in policy.no_op_markers)


def conflict_marker_files(files: Iterable[PullFile]) -> list[str]:
    """Files whose patch adds git conflict markers (sorted). An added ``<<<<<<<`` or ``>>>>>>>``
    line marks the file; a bare ``=======`` alone does not, because reStructuredText and
    Markdown underlines look the same."""
    found: list[str] = []
    for f in files:
        added = [line for line in (f.patch or "").splitlines() if line.startswith("+")]
        if any(_CONFLICT_OPEN_CLOSE.match(line) for line in added):
            found.append(f.filename)
    return sorted(found)


def patch_failures(log_excerpt: str | None) -> list[str]:
    """Lines of the run's log excerpt that report a patch that did not apply (at most 10)."""
    lines = [ln.strip() for ln in (log_excerpt or "").splitlines() if _PATCH_FAILURE.search(ln)]
    return lines[:10]


def protected_path_hits(files: Iterable[PullFile], policy: Policy) -> list[str]:
    """Paths (sorted) that match one of ``policy.protected_paths`` (RE2, searched anywhere in
    the path; anchor with ``^``). A rename counts for both its old and new path."""
    patterns = [re2.compile(p) for p in policy.protected_paths]
    hits: set[str] = set()
    for f in files:
        for path in (f.filename, f.previous_filename):
            if path and any(p.search(path) for p in patterns):
                hits.add(path)
    return sorted(hits)


@dataclass(frozen=True)
class GateReport:
    """Everything the deterministic gates found.

    Attributes:
        verdict: the decision when a gate failed, else None (the judge goes on).
        findings: anti-gaming findings that decided (or would decide) the run.
        warnings: findings recorded only (``anti_gaming_outcome: warn`` or advisory codes
            outside strict mode).
        antigaming: ``inventory`` (both sides' files compared) or ``diff_lines``.
        questions: the semantic questions the change raises (``question_*`` warnings of
            :mod:`shared.gates.inventory.semantic`; only when both sides are known): asked of
            the LLM judge, reported by the offline judge, deciding nothing.
    """

    verdict: Verdict | None
    findings: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    antigaming: str = "diff_lines"
    questions: list[Finding] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The report as JSON for the evaluation's inputs."""
        return {
            "gates": [r.model_dump() for r in self.verdict.reasons] if self.verdict else [],
            "gate_findings": [f.model_dump() for f in self.findings],
            "gate_warnings": [f.model_dump() for f in self.warnings],
            "antigaming_source": self.antigaming,
            "gate_questions": [f.model_dump() for f in self.questions],
        }


def _where(f: Finding) -> str:
    return f"{f.file}:{f.line}" if f.line is not None else f.file


def gate_report(
    files: list[PullFile],
    notify_payload: Mapping[str, Any],
    policy: Policy,
    *,
    unmerged_paths: Sequence[str] = (),
    snapshot: ChangeSnapshot | None = None,
) -> GateReport:
    """Run every deterministic gate (DESIGN §4 judge; issue 4 "Deterministic gates").

    Gates and outcomes: ``empty_diff`` (unless a no-op marker), ``conflict_markers``,
    ``patch_apply_failed``, ``unmerged_paths`` → needs_iteration; ``protected_path`` →
    needs_human; anti-gaming findings → ``policy.anti_gaming_outcome`` (``warn`` records them
    only, unless ``policy.strict``, which makes them needs_human); advisory findings
    (:data:`~shared.gates.antigaming.ADVISORY_CODES`) are warnings unless ``policy.strict``
    (then needs_iteration). The most severe outcome wins (needs_human over needs_iteration).

    Args:
        files: the diff per file (GitHub's files, or a worktree/GitHub diff parsed by
            :func:`shared.gates.diff.parse_unified_diff`).
        notify_payload: the run's notify payload (``summary``, ``log_excerpt``,
            ``unmerged_paths``).
        policy: the effective policy.
        unmerged_paths: unmerged paths of the worktree (:class:`shared.gates.diff.PullDiff`).
        snapshot: both sides of the changed files and their configuration; when given, the
            anti-gaming findings come from comparing the two inventories
            (:func:`shared.gates.inventory.inventory_findings`), else from the diff's lines
            (:func:`shared.gates.antigaming.antigaming_findings`).
    """
    reasons: list[Reason] = []
    prompts: list[str] = []
    human = False
    summary = notify_payload.get("summary")
    if not files and not has_no_op_marker(summary if isinstance(summary, str) else None, policy):
        reasons.append(_reason("empty_diff", "the pull request changes no files"))
        prompts.append(
            "The pull request has no changes. Implement the issue, or state "
            f"explicitly that no change is needed with one of {policy.no_op_markers}."
        )
    conflicted = conflict_marker_files(files)
    if conflicted:
        reasons.append(
            _reason("conflict_markers", "conflict markers added in " + ", ".join(conflicted))
        )
        prompts.append(
            "Remove the merge conflict markers (<<<<<<<, =======, >>>>>>>) from: "
            + ", ".join(conflicted)
        )
    log_excerpt = notify_payload.get("log_excerpt")
    failures = patch_failures(log_excerpt if isinstance(log_excerpt, str) else None)
    if failures:
        reasons.append(_reason("patch_apply_failed", "; ".join(failures)))
        prompts.append(
            "A patch failed to apply during the run:\n"
            + "\n".join(f"- {line}" for line in failures)
            + "\nRe-create the change against the current base branch."
        )
    reported = notify_payload.get("unmerged_paths")
    unmerged = sorted(
        {*unmerged_paths, *(str(p) for p in reported if p)}
        if isinstance(reported, list)
        else set(unmerged_paths)
    )
    if unmerged:
        reasons.append(_reason("unmerged_paths", "unmerged paths: " + ", ".join(unmerged)))
        prompts.append("Finish the merge and resolve every unmerged path: " + ", ".join(unmerged))
    protected = protected_path_hits(files, policy)
    if protected:
        human = True
        reasons.append(
            _reason("protected_path", "protected paths touched: " + ", ".join(protected))
        )
    decided: list[Finding] = []
    warnings: list[Finding] = []
    found = inventory_findings(snapshot) if snapshot is not None else antigaming_findings(files)
    for finding in found:
        if finding.advisory:
            (decided if policy.strict else warnings).append(finding)
        elif policy.anti_gaming_outcome == "warn" and not policy.strict:
            warnings.append(finding)
        else:
            decided.append(finding)
    gaming = [f for f in decided if not f.advisory]
    advisory = [f for f in decided if f.advisory]
    if gaming:
        human = human or policy.anti_gaming_outcome != "needs_iteration"
        for f in gaming:
            reasons.append(_reason(f.code, f"{_where(f)}: {f.message}"))
        prompts.append(
            "The change weakens the checks instead of fixing the code. Undo these edits:\n"
            + "\n".join(f"- {f.code} at {_where(f)}: {f.message}" for f in gaming)
        )
    if advisory:
        for f in advisory:
            reasons.append(_reason(f.code, f"{_where(f)}: {f.message}"))
        prompts.append(
            "Remove the inline lint/type suppressions and fix the underlying problems:\n"
            + "\n".join(f"- {_where(f)}: {f.message}" for f in advisory)
        )
    source = "inventory" if snapshot is not None else "diff_lines"
    questions = inventory_questions(snapshot) if snapshot is not None else []
    if not reasons:
        return GateReport(None, [], warnings, source, questions)
    verdict = Verdict(
        "needs_human" if human else "needs_iteration",
        reasons,
        "\n\n".join(prompts) if prompts else None,
        extra={
            "gate_findings": [f.model_dump() for f in decided],
            "gate_warnings": [f.model_dump() for f in warnings],
        },
    )
    return GateReport(verdict, decided, warnings, source, questions)


def deterministic_gates(
    files: list[PullFile],
    notify_payload: Mapping[str, Any],
    policy: Policy,
    *,
    unmerged_paths: Sequence[str] = (),
    snapshot: ChangeSnapshot | None = None,
) -> Verdict | None:
    """The verdict of :func:`gate_report`; None when every gate passes.

    Kept for callers that need only the decision; warnings are in :func:`gate_report`.
    """
    return gate_report(
        files, notify_payload, policy, unmerged_paths=unmerged_paths, snapshot=snapshot
    ).verdict


def ci_failure(ci_summary: Mapping[str, Any], policy: Policy) -> Verdict:
    """``needs_iteration`` / ``ci_failed`` with a prompt naming each failing check."""
    failing = [str(n) for n in ci_summary.get("failing") or []]
    if ci_summary.get("verdict") == "stale_base":  # green, but on a base too far behind
        base = ci_summary.get("base") or {}
        return Verdict(
            "needs_iteration",
            [_reason("stale_base", f"CI ran on a stale base {base.get('base_sha') or ''}".strip())],
            failure_prompt(dict(ci_summary), policy),
        )
    if ci_summary.get("reason"):  # a gate-concluded failure (ci_timeout) explains itself
        return Verdict(
            "needs_iteration",
            [_reason(str(ci_summary["reason"]), str(ci_summary.get("message") or failing))],
            str(ci_summary.get("next_prompt") or failure_prompt(dict(ci_summary), policy)),
        )
    return Verdict(
        "needs_iteration",
        [_reason("ci_failed", "failing checks: " + ", ".join(failing))],
        failure_prompt(dict(ci_summary), policy),
    )


def review_blocking(review_verdict: str, review_summary: Mapping[str, Any]) -> Verdict | None:
    """``needs_iteration`` when the AI review requested changes or left unresolved threads;
    ``needs_human`` ``review_timeout`` when no final review came in time (review-gate)."""
    if review_verdict == "timed_out":
        code = str(review_summary.get("reason") or "review_timeout")
        return Verdict("needs_human", [_reason(code, str(review_summary.get("message") or code))])
    if review_verdict not in ("changes_requested", "unresolved_threads"):
        return None
    threads = review_summary.get("unresolved_threads") or []
    message = (
        f"{len(threads)} unresolved AI review thread(s)"
        if review_verdict == "unresolved_threads"
        else "the AI reviewer requested changes"
    )
    return Verdict(
        "needs_iteration", [_reason(review_verdict, message)], review_summary.get("next_prompt")
    )


def mergeability(
    mergeable_state: str | None, pr_head_sha: str | None, run_head_sha: str | None
) -> Verdict | None:
    """``merge_conflict`` when GitHub reports ``mergeable_state`` dirty; ``head_moved`` when the
    PR's head is no longer the judged commit (DESIGN §12.7: never judge one SHA, merge another).
    """
    if run_head_sha and pr_head_sha and pr_head_sha != run_head_sha:
        return Verdict(
            "needs_human",
            [
                _reason(
                    "head_moved",
                    f"the PR head is {pr_head_sha}, not the run's commit {run_head_sha}",
                )
            ],
        )
    if (mergeable_state or "").lower() == "dirty":
        return Verdict(
            "needs_iteration",
            [_reason("merge_conflict", "the pull request conflicts with its base")],
            "The pull request has merge conflicts with its base branch. Rebase or "
            "merge the base branch and resolve every conflict.",
        )
    return None


def offline_verdict(
    ci_summary: Mapping[str, Any],
    review_verdict: str,
    questions: Sequence[Finding] = (),
) -> Verdict:
    """The offline judge: reached only when every gate, CI and the review passed, so it passes,
    and says that no model judged the issue's requirements. Each semantic question the gates
    raised (:attr:`GateReport.questions`) follows as a warning reason with its place: no
    model answered it, so a person reading the verdict should."""
    checks = len(ci_summary.get("checks") or [])
    return Verdict(
        "pass",
        [
            _reason(
                "offline_pass",
                f"offline judge (no language model): deterministic gates passed, CI success on "
                f"{checks} check(s), AI review {review_verdict}",
            ),
            *(
                _reason(q.code, f"warning, unanswered without a model: {_where(q)}: {q.message}")
                for q in questions
            ),
        ],
        judge_kind="offline",
        extra={"warnings": [q.model_dump() for q in questions]} if questions else {},
    )
