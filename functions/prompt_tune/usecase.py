"""The prompt-tune use case: repeated failure reasons become ONE prompt-tuning pull request.

On ``io.codexjudge.judge.decided.v1`` with ``needs_iteration`` or ``needs_human``, under a
transaction-scoped advisory lock per repository:

1. nothing while ``policy.prompt_tuning_enabled`` is off, or within
   ``policy.prompt_tuning_cooldown_h`` hours of the repository's last proposal;
2. the failed evaluations of the last ``policy.prompt_tuning_window_h`` hours (and since the
   last proposal) are aggregated by reason code; fewer than ``policy.prompt_tuning_threshold``,
   or no actionable suggestion (:mod:`functions.prompt_tune.suggestions`) → nothing;
3. otherwise one PR: a branch from the base branch's head, the template at
   ``policy.prompt_template_path`` extended with the guidance (contents API), a short evidence
   document listing the runs, reasons and verdicts, and a PR whose body starts from the
   repository's pull request template when it has one. Every write goes through
   :func:`shared.writes.github_write` (dry run, allow-list, effects outbox, audit) under keys
   derived from ``prompt-tune:<repo>:after-<last proposal id>``, so a redelivery or a crash
   half-way never opens a second branch or PR. The proposal is recorded in
   ``codex_judge.prompt_tuning``; its row starts the cooldown.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from functions.prompt_tune import suggestions
from shared.bootstrap import Container
from shared.db import Tx
from shared.events import Envelope
from shared.models.events import JUDGE_DECIDED, JudgeDecided
from shared.policy import Policy, effective_policy
from shared.ports import WriteAnswer
from shared.projections import project_pull
from shared.runtime import Context, NoReply, Outcome
from shared.writes import github_write

PR_TEMPLATE_PATHS = (".github/pull_request_template.md", ".github/PULL_REQUEST_TEMPLATE.md")

SQL_LOCK = "SELECT pg_advisory_xact_lock(hashtext('prompt-tune'), hashtext(:repository))"
SQL_LAST = """
SELECT id, created_at, created_at > now() - make_interval(hours => :cooldown_h) AS cooling
  FROM codex_judge.prompt_tuning WHERE repository = :repository
 ORDER BY created_at DESC, id DESC LIMIT 1
"""
SQL_FAILURES = """
SELECT e.id, e.run_id, e.decision, e.reasons, r.issue_number, r.attempt, r.base_ref
  FROM codex_judge.evaluations e JOIN codex_judge.runs r ON r.id = e.run_id
 WHERE r.repository = :repository AND e.decision IN ('needs_iteration', 'needs_human')
   AND e.created_at > now() - make_interval(hours => :window_h)
   AND e.created_at > :since
 ORDER BY e.id
"""
SQL_BASE_SHA = """
SELECT base_sha FROM github.pr_state
 WHERE repository = :repository AND base_ref = :base AND base_sha IS NOT NULL
 ORDER BY observed_at DESC LIMIT 1
"""
SQL_LATEST_PR = """
SELECT pr_number FROM codex_judge.runs
 WHERE repository = :repository AND pr_number IS NOT NULL
 ORDER BY id DESC LIMIT 1
"""


def _base_sha(tx: Tx, deps: Container, repository: str, base: str) -> str | None:
    """The base branch's head SHA: the newest projected PR state, else read from GitHub
    through the repository's latest judged PR (and projected for the next time)."""
    row = tx.one(SQL_BASE_SHA, repository=repository, base=base)
    if row is not None:
        return str(row["base_sha"])
    latest = tx.one(SQL_LATEST_PR, repository=repository)
    if latest is None:
        return None
    pull = deps.github().get_pull(repository, int(latest["pr_number"]))
    if pull is None or pull.base.ref != base:
        return None
    project_pull(tx, repository, pull)
    return pull.base.sha


SQL_RECORD = """
INSERT INTO codex_judge.prompt_tuning
    (repository, idempotency_key, state, failure_count, window_hours, reasons, suggestions,
     evidence, template_path, evidence_path, branch, pr_number, pr_url, error)
VALUES (:repository, :key, :state, :count, :window_h, CAST(:reasons AS jsonb),
        CAST(:suggestions AS jsonb), CAST(:evidence AS jsonb), :template_path, :evidence_path,
        :branch, :pr_number, :pr_url, :error)
ON CONFLICT (idempotency_key) DO NOTHING
"""


def _decode(answer: WriteAnswer) -> tuple[str, str | None]:
    """A contents-API answer's text and blob SHA; ``("", None)`` when the file is absent."""
    if answer.status != 200 or answer.body.get("type") != "file":
        return "", None
    raw = base64.b64decode(str(answer.body.get("content") or ""))
    return raw.decode("utf-8", errors="replace"), answer.body.get("sha")


def _open_pull(
    ctx: Context,
    policy: Policy,
    repository: str,
    key: str,
    base: str,
    failures: list[dict[str, Any]],
    found: list[tuple[str, int, str]],
) -> dict[str, Any]:
    """Branch, template change, evidence, PR; returns the columns to record."""
    tx, deps = ctx.tx, ctx.deps
    branch = f"codex-judge/prompt-tune-{hashlib.sha256(key.encode()).hexdigest()[:10]}"
    evidence_path = f".codex/prompt-tuning/{branch.rsplit('/', 1)[-1]}.md"
    out: dict[str, Any] = {"branch": branch, "evidence_path": evidence_path, "state": "dry_run"}
    evidence = suggestions.evidence_document(
        repository, policy.prompt_tuning_window_h, failures, found
    )

    def write(step: str, request: dict[str, Any], call: Any) -> Any:
        return github_write(
            tx,
            deps,
            key=f"{key}:{step}",
            action=f"prompt_tune.{step}",
            repository=repository,
            run_id=None,
            request=request,
            dry_run=policy.dry_run,
            call=call,
        )

    if policy.dry_run:
        write("pull", {"branch": branch, "base": base, "evidence": evidence}, None)
        return out
    base_sha = _base_sha(tx, deps, repository, base)
    if base_sha is None:
        return {**out, "state": "failed", "error": f"head SHA of {base} is unknown"}
    writer = deps.github_writer()
    current, blob = _decode(writer.get_contents(repository, policy.prompt_template_path, ref=base))
    template = ""
    for path in PR_TEMPLATE_PATHS:
        template, _ = _decode(writer.get_contents(repository, path, ref=base))
        if template:
            break
    steps: list[tuple[str, dict[str, Any], Any]] = [
        (
            "ref",
            {"ref": f"refs/heads/{branch}", "sha": base_sha},
            lambda w: w.create_ref(repository, ref=f"refs/heads/{branch}", sha=base_sha),
        ),
        (
            "template",
            {"path": policy.prompt_template_path, "branch": branch},
            lambda w: w.put_contents(
                repository,
                policy.prompt_template_path,
                branch=branch,
                sha=blob,
                message="Tune the Codex prompt from repeated failure reasons",
                content=suggestions.tuned_template(current, found).encode(),
            ),
        ),
        (
            "evidence",
            {"path": evidence_path, "branch": branch},
            lambda w: w.put_contents(
                repository,
                evidence_path,
                branch=branch,
                message="Add the evidence behind the prompt change",
                content=evidence.encode(),
            ),
        ),
    ]
    body = "\n\n".join(
        part
        for part in (
            template.strip(),
            f"Opened by codex-judge after {len(failures)} failed evaluations.",
            evidence,
        )
        if part
    )
    title = "Tune the Codex prompt: " + ", ".join(code for code, _, _ in found[:3])
    steps.append(
        (
            "pull",
            {"title": title, "head": branch, "base": base},
            lambda w: w.create_pull(repository, title=title, head=branch, base=base, body=body),
        )
    )
    for step, request, call in steps:
        result = write(step, request, call)
        if result.mode == "refused" or (result.answer is not None and not result.answer.ok):
            return {**out, "state": "failed", "error": f"{step}: {result.outcome}"}
    pull = result.answer.body if result.answer else {}
    return {
        **out,
        "state": "opened",
        "pr_number": pull.get("number"),
        "pr_url": pull.get("html_url"),
    }


def _record(tx: Tx, repository: str, key: str, policy: Policy, **columns: Any) -> None:
    tx.run(
        SQL_RECORD,
        repository=repository,
        key=key,
        window_h=policy.prompt_tuning_window_h,
        template_path=policy.prompt_template_path,
        pr_number=columns.pop("pr_number", None),
        pr_url=columns.pop("pr_url", None),
        error=columns.pop("error", None),
        **columns,
    )


def tune(event: Envelope, ctx: Context) -> Outcome:
    """Maybe open one prompt-tuning PR for the decision's repository (module docstring)."""
    if event.type != JUDGE_DECIDED:
        return NoReply(f"ignored event type {event.type}")
    decided = event.model(JudgeDecided)
    if decided.decision == "pass" or not decided.repository:
        return NoReply("not a failure with a repository", run_id=decided.run_id)
    repository = decided.repository
    policy, _ = effective_policy(ctx.tx, ctx.deps.settings, repository)
    if not policy.prompt_tuning_enabled:
        return NoReply("prompt tuning is disabled", run_id=decided.run_id)
    ctx.tx.one(SQL_LOCK, repository=repository)
    last = ctx.tx.one(SQL_LAST, repository=repository, cooldown_h=policy.prompt_tuning_cooldown_h)
    if last is not None and last["cooling"]:
        return NoReply("within the prompt-tuning cooldown", run_id=decided.run_id)
    failures = ctx.tx.all(
        SQL_FAILURES,
        repository=repository,
        window_h=policy.prompt_tuning_window_h,
        since=last["created_at"] if last else "-infinity",
    )
    if len(failures) < policy.prompt_tuning_threshold:
        return NoReply(f"{len(failures)} failures, below the threshold", run_id=decided.run_id)
    counts = suggestions.reason_counts(failures)
    found = suggestions.actionable(counts)
    if not found:
        return NoReply("no actionable suggestion in the failure reasons", run_id=decided.run_id)
    key = f"prompt-tune:{repository}:after-{last['id'] if last else 0}"
    base = str(failures[-1].get("base_ref") or "main")
    columns = _open_pull(ctx, policy, repository, key, base, failures, found)
    evidence = [
        {"run_id": f["run_id"], "decision": f["decision"], "reasons": f["reasons"]}
        for f in failures
    ]
    _record(
        ctx.tx,
        repository,
        key,
        policy,
        count=len(failures),
        reasons=json.dumps(dict(counts)),
        suggestions=json.dumps([{"code": c, "count": n, "guidance": g} for c, n, g in found]),
        evidence=json.dumps(evidence, default=str),
        **columns,
    )
    return NoReply(f"prompt tuning {columns['state']}", run_id=decided.run_id)
