"""The run store: ``codex_judge.runs`` and what hangs off a run (completions, artifacts, agent
messages). Every statement is a named constant with bound parameters (DESIGN §5).

Rules kept here, in SQL where they can be:

* **One run per workflow uid** (``runs.workflow_uid`` unique). Argo repeats the same completion
  in several UPDATE events; ``(workflow_uid, phase, finishedAt)`` is inserted into
  ``codex_judge.run_completions`` *first*, and a conflict means "already recorded": nothing
  else changes.
* **Attempt per (repository, issue)** (``runs_attempt_unique``): the attempt the workflow asked
  for when it is free, else ``max + 1``; a concurrent writer that takes the same number makes
  the insert fail with a unique violation, answered 409 (:class:`~shared.errors.ConflictError`)
  so the delivery is retried and chooses again (:mod:`shared.runs.new_run`).
* **One active run per (repository, issue)** (``runs_one_active_per_issue``): a new attempt
  marks the older active run ``superseded`` (compare-and-set on ``active``); a completion that
  arrives *after* a higher attempt is itself ``superseded``.
* **Never dropped**: a completion without repository, issue or head SHA becomes
  ``needs_human`` with reason ``missing_run_metadata``.
* **Status changes are compare-and-set** (:mod:`shared.runs.moves`): ``WHERE status =
  ANY(:from)``, verdicts ``WHERE … IS NULL``, so a late or duplicate event cannot move a run
  backwards; :func:`escalate` moves any active run to ``needs_human`` (an upstream "not found",
  a timer that keeps failing). The terminal set is :data:`TERMINAL_STATUSES`.
* **One owner**: no module outside this package writes ``codex_judge.runs``
  (``tests/unit/shared/runs/test_owner.py`` parses every statement to check it); rows leave it as
  frozen :class:`Run` values, and :mod:`shared.runs.event_data` is the one mapping from a run
  to the events about it.
* **notify merges**: ``notify_payload = notify_payload || :payload`` — a later notify adds or
  replaces top-level keys, keys it does not mention survive (DESIGN §12 item 10).
"""

from __future__ import annotations

from shared.runs.completion import (
    MISSING_RUN_METADATA,
    SUPERSEDED_BY_NEW_ATTEMPT,
    SUPERSEDED_BY_NEWER_ATTEMPT,
    CompletionResult,
    merged_metadata,
    record_artifacts,
    record_completion,
)
from shared.runs.costs import add_graphql_points
from shared.runs.enrichment import describe_agent_event, record_agent_messages, record_notify
from shared.runs.model import ACTIVE_STATUSES, STATUSES, TERMINAL_STATUSES, Run, RunStatus
from shared.runs.moves import (
    conclude_ci,
    conclude_review,
    escalate,
    record_decision,
    transition,
)
from shared.runs.store import (
    active_runs_for_pr,
    active_runs_for_sha,
    get_run,
    get_run_by_uid,
    latest_pr_number,
    lock,
    lock_waiting_for_ci,
    lock_waiting_for_review,
    max_attempt,
)

__all__ = [
    "ACTIVE_STATUSES",
    "MISSING_RUN_METADATA",
    "STATUSES",
    "SUPERSEDED_BY_NEWER_ATTEMPT",
    "SUPERSEDED_BY_NEW_ATTEMPT",
    "TERMINAL_STATUSES",
    "CompletionResult",
    "Run",
    "RunStatus",
    "active_runs_for_pr",
    "active_runs_for_sha",
    "add_graphql_points",
    "conclude_ci",
    "conclude_review",
    "describe_agent_event",
    "escalate",
    "get_run",
    "get_run_by_uid",
    "latest_pr_number",
    "lock",
    "lock_waiting_for_ci",
    "lock_waiting_for_review",
    "max_attempt",
    "merged_metadata",
    "record_agent_messages",
    "record_artifacts",
    "record_completion",
    "record_decision",
    "record_notify",
    "transition",
]
