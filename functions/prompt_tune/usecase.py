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
   :func:`shared.effects.writes.github_write` (dry run, allow-list, effects outbox, audit) under
   keys derived from ``prompt-tune:<repo>:after-<last proposal id>``, so a redelivery or a crash
   half-way never opens a second branch or PR. The proposal is recorded in
   ``codex_judge.prompt_tuning``; its row starts the cooldown.

prompt-tune is a timer owner (issue 10): each write's claim arms a recovery timer (owner
``prompt-tune``) with the decision, retired with the proposal's row. A worker that dies, or
loses Postgres, between a write and that row leaves the timer, and the scheduler's
``io.codexjudge.timers.due.v1`` (``timerowner = prompt-tune``) handles the decision again
(:func:`tick`). Every write is idempotent upstream, so a write GitHub made before the record
was lost is recognised, not repeated and not counted as a failure: a repeated branch creation
(422 "Reference already exists") is done; a repeated file write (409/422) is done when the file
on the branch already holds that content (the evidence: when it exists — the path is the
branch's own); a repeated PR creation (422 "A pull request already exists") is looked up
(:meth:`shared.ports.GitHubWriter.find_pull`) and recorded as the same PR.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from functions.prompt_tune import suggestions
from shared.bootstrap import Container
from shared.db import Tx
from shared.effects import outbox, recovery
from shared.effects.writes import github_write
from shared.github.pulls import project_pull
from shared.models.events import JUDGE_DECIDED, JudgeDecided
from shared.policy.model import Policy
from shared.policy.resolution import effective_policy
from shared.ports import GitHubWriter, WriteAnswer
from shared.runs import latest_pr_number
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome
from shared.waits import timers

#: The timer owner (the Knative Service name): recovery timers of proposals whose worker died.
OWNER = "prompt-tune"
#: Outcomes of a write that is on GitHub: sent now, or found done by a repeat.
DONE = frozenset({"success", "already_done"})
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


def _base_sha(tx: Tx, deps: Container, repository: str, base: str) -> str | None:
    """The base branch's head SHA: the newest projected PR state, else read from GitHub
    through the repository's latest judged PR (and projected for the next time)."""
    row = tx.one(SQL_BASE_SHA, repository=repository, base=base)
    if row is not None:
        return str(row["base_sha"])
    latest = latest_pr_number(tx, repository)
    if latest is None:
        return None
    pull = deps.github().get_pull(repository, latest)
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


def _message(answer: WriteAnswer) -> str:
    """GitHub's error message and every ``errors[].message``, as one string."""
    errors = answer.body.get("errors")
    details = (
        [str(e.get("message") or "") for e in errors if isinstance(e, dict)]
        if isinstance(errors, list)
        else []
    )
    return " ".join([str(answer.body.get("message") or ""), *details])


def _classify(answer: WriteAnswer) -> str:
    """``success``; ``already_done`` for what a repeat found made (see the module docstring)."""
    if answer.ok:
        return "already_done" if answer.body.get("observed") else "success"
    return f"rejected_{answer.status}"


def _create_ref(w: GitHubWriter, repository: str, branch: str, sha: str) -> WriteAnswer:
    answer = w.create_ref(repository, ref=f"refs/heads/{branch}", sha=sha)
    if answer.status == 422 and "Reference already exists" in _message(answer):
        # The branch name derives from the proposal's key: a repeat of our own creation.
        return WriteAnswer(200, {**answer.body, "observed": "reference already exists"})
    return answer


def _put_file(
    w: GitHubWriter,
    repository: str,
    path: str,
    *,
    branch: str,
    content: str,
    message: str,
    sha: str | None = None,
    exists_is_done: bool = False,
) -> WriteAnswer:
    answer = w.put_contents(
        repository, path, branch=branch, sha=sha, message=message, content=content.encode()
    )
    if answer.status not in (409, 422):
        return answer
    # Refused because the file changed since ``sha`` (409) or exists without ``sha`` (422):
    # done when a write of ours, repeated, finds its own content there.
    text, blob = _decode(w.get_contents(repository, path, ref=branch))
    if blob is not None and (exists_is_done or text == content):
        return WriteAnswer(200, {"content": {"path": path, "sha": blob}, "observed": "on branch"})
    return answer


def _create_pull(
    w: GitHubWriter, repository: str, *, title: str, branch: str, base: str, body: str
) -> WriteAnswer:
    answer = w.create_pull(repository, title=title, head=branch, base=base, body=body)
    if answer.status == 422 and "pull request already exists" in _message(answer).lower():
        existing = w.find_pull(repository, head=branch)
        if existing is not None:
            return WriteAnswer(200, {**existing, "observed": "pull request already exists"})
    return answer


def _open_pull(
    ctx: Context,
    policy: Policy,
    repository: str,
    key: str,
    base: str,
    failures: list[dict[str, Any]],
    found: list[tuple[str, int, str]],
    owner: outbox.Recovery,
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
            classify=_classify,
            recovery=owner,
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
            lambda w: _create_ref(w, repository, branch, base_sha),
        ),
        (
            "template",
            {"path": policy.prompt_template_path, "branch": branch},
            lambda w: _put_file(
                w,
                repository,
                policy.prompt_template_path,
                branch=branch,
                sha=blob,
                message="Tune the Codex prompt from repeated failure reasons",
                content=suggestions.tuned_template(current, found),
            ),
        ),
        (
            "evidence",
            {"path": evidence_path, "branch": branch},
            lambda w: _put_file(
                w,
                repository,
                evidence_path,
                branch=branch,
                message="Add the evidence behind the prompt change",
                content=evidence,
                exists_is_done=True,
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
            lambda w: _create_pull(w, repository, title=title, branch=branch, base=base, body=body),
        )
    )
    for step, request, call in steps:
        result = write(step, request, call)
        if result.outcome not in DONE:
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


def tick(event: Envelope, ctx: Context) -> Outcome:
    """The scheduler's ``timers.due`` (``timerowner = prompt-tune``): each decision whose
    proposal a dead worker left unrecorded is handled again (:mod:`shared.effects.recovery`)."""
    handled = 0
    for timer in recovery.distinct_events(timers.claim_due(ctx.tx, OWNER)):
        handled += recovery.handle_again(ctx, timer, tune) is not None
    return NoReply(f"tick: {handled} decision(s) handled again")


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
    owner = outbox.Recovery(
        owner=OWNER, run_id=decided.run_id, event_type=JUDGE_DECIDED, data=event.json()
    )
    columns = _open_pull(ctx, policy, repository, key, base, failures, found, owner)
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
