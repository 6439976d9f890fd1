"""The policy model: one repository's rules, the Settings defaults, and a pack's override.

A policy pack is the ``document`` (jsonb) of the repository's ``codex_judge.policies`` row
(DESIGN §9). Only the keys it names override the process defaults; an unknown key is an
operator error and is rejected with its path, never ignored. Each evaluation records the
effective policy (:mod:`shared.policy.resolution`) and its SHA-256 hash so a verdict can be
explained later. This module reads no database: the gates judge by the model alone.

The neutral/skipped rule lives here once and :func:`Policy.conclusion_passes` is the only place
that interprets a check conclusion (DESIGN §12.3: ``neutral`` once meant failure in one place
and success in another).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

import re2
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from shared.errors import InvalidDataError
from shared.runtime.envelope import parse_model
from shared.settings import Settings

# Check conclusions that always pass or always fail (GitHub REST "Check runs": conclusion is
# success|failure|neutral|cancelled|skipped|timed_out|action_required|stale; commit status
# states are success|failure|error|pending).
_ALWAYS_PASS = frozenset({"success"})
_POLICY_DEPENDENT = frozenset({"neutral", "skipped"})


def _re2_pattern(value: str) -> str:
    """Reject a pattern RE2 cannot compile (DESIGN §9: every user pattern is RE2, linear time;
    lookaround and backreferences are not RE2 syntax)."""
    try:
        re2.compile(value)
    except re2.error as exc:
        raise ValueError(f"invalid RE2 pattern {value!r}: {exc}") from exc
    return value


Re2Pattern = Annotated[str, AfterValidator(_re2_pattern)]


class RequiredCheck(BaseModel):
    """A required check: a check run name or commit status context, optionally pinned to the
    GitHub App that must report it (``app.slug`` / ``app.id`` of the check run). A plain
    string in a policy document means ``{"name": <string>}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    app_slug: str | None = None
    app_id: int | None = None


class Policy(BaseModel):
    """One repository's rules for CI, review, the judge and the actions on a verdict.

    Durations are seconds unless named ``_h`` (hours). Every pattern field holds RE2 patterns.

    CI (ci-status): ``required_checks`` (empty = every reported check is required);
    ``neutral_is_success`` / ``skipped_is_success``; ``stale_is`` and ``action_required_is``
    (``pending`` or ``failure``; ``timed_out``/``cancelled``/``failure`` always fail);
    ``ci_timeout_s``; ``base_max_commits_behind`` / ``base_max_hours_behind`` (the optional
    base-freshness rule); ``flaky_retry_max`` re-requests of a failed check suite per SHA when
    its conclusion is in ``flaky_retry_conclusions``.

    Review (review-gate): ``ai_reviewer_logins`` (case-insensitive), ``require_ai_review``,
    ``outdated_threads_block``, ``require_human_approval``, ``review_timeout_s``.

    Waits: ``reconcile_interval_s`` (a run without news this long is re-read from GitHub),
    ``mergeable_poll_timeout_s`` (how long ``mergeable_state: unknown`` is re-polled).

    Judge: ``no_op_markers``, ``protected_paths``, ``anti_gaming_outcome``, ``strict``
    (findings become failures instead of warnings), ``judge_model``, ``token_budget`` (input
    tokens per evaluation), ``daily_token_ceiling`` (per repository; None = unlimited),
    ``self_consistency_samples``, ``min_confidence``, ``prompt_template_version``,
    ``repeated_failure_outcome``.

    Actions: ``dry_run`` (record, do not call out), ``merge_method``, ``delete_branch``,
    ``deploy_mode`` and its settings, ``max_attempts`` and ``backoff_s`` (one delay per
    rerun), ``rerun_target``, ``rerun_submit_max_attempts``, ``prompt_tuning_*``,
    ``prompt_template_path``, ``discord_kinds`` (which notices are posted).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- CI ---
    required_checks: list[RequiredCheck] = Field(default_factory=list)
    neutral_is_success: bool = True
    skipped_is_success: bool = True
    stale_is: Literal["pending", "failure"] = "pending"
    action_required_is: Literal["pending", "failure"] = "failure"
    ci_timeout_s: int = Field(default=3600, ge=1)
    base_max_commits_behind: int | None = Field(default=None, ge=0)
    base_max_hours_behind: float | None = Field(default=None, gt=0)
    flaky_retry_max: int = Field(default=0, ge=0, le=10)
    flaky_retry_conclusions: list[str] = Field(default_factory=lambda: ["timed_out", "cancelled"])
    # --- review ---
    ai_reviewer_logins: list[str] = Field(default_factory=list)
    require_ai_review: bool = True
    outdated_threads_block: bool = False
    require_human_approval: bool = False
    review_timeout_s: int = Field(default=3600, ge=1)
    # --- durable waits ---
    reconcile_interval_s: int = Field(default=600, ge=1)
    mergeable_poll_timeout_s: int = Field(default=300, ge=1)
    # --- judge ---
    no_op_markers: list[str] = Field(default_factory=list)
    protected_paths: list[Re2Pattern] = Field(default_factory=list)
    anti_gaming_outcome: Literal["needs_human", "needs_iteration", "warn"] = "needs_human"
    strict: bool = False
    judge_model: str | None = None
    token_budget: int = Field(default=24000, ge=1000)
    daily_token_ceiling: int | None = Field(default=None, ge=1)
    self_consistency_samples: int = Field(default=1, ge=1, le=7)
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    prompt_template_version: str = "v2"
    repeated_failure_outcome: Literal["needs_human", "needs_iteration"] = "needs_human"
    # --- actions on a verdict ---
    dry_run: bool = True
    merge_method: Literal["merge", "squash", "rebase"] = "squash"
    delete_branch: bool = True
    deploy_mode: Literal["none", "argocd", "argo_workflow"] = "none"
    argocd_application: str | None = None
    deploy_workflow_template: str | None = None
    verify_workflow_template: str | None = None
    deploy_namespace: str = "argo"
    deploy_timeout_s: int = Field(default=1800, ge=1)
    on_deploy_failure: Literal["revert", "rollback"] = "revert"
    max_attempts: int = Field(default=3, ge=1, le=20)
    backoff_s: list[int] = Field(default_factory=lambda: [60, 300, 900])
    rerun_target: Literal["facteur", "argo"] = "argo"
    rerun_submit_max_attempts: int = Field(default=3, ge=1, le=10)
    prompt_tuning_enabled: bool = True
    prompt_tuning_threshold: int = Field(default=3, ge=1)
    prompt_tuning_window_h: int = Field(default=168, ge=1)
    prompt_tuning_cooldown_h: int = Field(default=72, ge=0)
    prompt_template_path: str = ".codex/prompt.md"
    # Issue 5: success (merged and verified) and escalations only; add "needs_iteration" to
    # hear about every rerun.
    discord_kinds: list[str] = Field(
        default_factory=lambda: [
            "success",
            "needs_human",
            "attempts_exhausted",
            "repeated_failure",
            "deploy_failed",
        ]
    )

    @field_validator("required_checks", mode="before")
    @classmethod
    def _names_are_checks(cls, value: Any) -> Any:
        """A plain string is a required check of that name, reported by any app."""
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    def required_check_names(self) -> list[str]:
        """The required checks' names, in policy order, without repeats."""
        return list(dict.fromkeys(check.name for check in self.required_checks))

    def conclusion_passes(self, conclusion: str | None) -> bool:
        """Whether a concluded check's ``conclusion`` (or a status ``state``) counts as passing."""
        value = (conclusion or "").lower()
        if value in _ALWAYS_PASS:
            return True
        if value == "neutral":
            return self.neutral_is_success
        if value == "skipped":
            return self.skipped_is_success
        return False

    def is_ai_reviewer(self, login: str | None) -> bool:
        """Whether ``login`` is one of the configured AI reviewers (case-insensitive)."""
        if not login:
            return False
        return login.lower() in {name.lower() for name in self.ai_reviewer_logins}

    def digest(self) -> str:
        """SHA-256 (64 hex) of the canonical JSON of this policy."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def default_policy(settings: Settings) -> Policy:
    """The process defaults from Settings (DESIGN §9)."""
    return Policy(
        required_checks=list(settings.required_checks),
        neutral_is_success=settings.neutral_counts_as_success,
        skipped_is_success=settings.skipped_counts_as_success,
        ai_reviewer_logins=list(settings.ai_reviewer_logins),
        require_ai_review=settings.require_ai_review,
        no_op_markers=list(settings.no_op_markers),
        max_attempts=settings.max_attempts,
    )


def merge_policy(defaults: Policy, document: Any, *, repository: str) -> Policy:
    """Override ``defaults`` with the keys of a policy pack ``document``.

    Raises:
        InvalidDataError: the document is not an object, names an unknown key or has a value
            of the wrong type; ``field`` is ``policies[<repository>].<key>``.
    """
    root = f"policies[{repository}]"
    if not isinstance(document, dict):
        raise InvalidDataError(
            f"{root}: policy document must be a JSON object, got {type(document).__name__}",
            field=root,
        )
    merged = {**defaults.model_dump(), **document}
    return parse_model(Policy, merged, root=root)
