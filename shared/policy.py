"""The effective policy of a repository: Settings defaults overridden by its policy pack.

A policy pack is the ``document`` (jsonb) of the repository's ``codex_judge.policies`` row
(DESIGN §9). Only the keys it names override the process defaults; an unknown key is an
operator error and is rejected with its path, never ignored. Each evaluation records the
effective policy and its SHA-256 hash so a verdict can be explained later.

The neutral/skipped rule lives here once and :func:`Policy.conclusion_passes` is the only place
that interprets a check conclusion (DESIGN §12.3: ``neutral`` once meant failure in one place
and success in another).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.db import Tx
from shared.errors import InvalidDataError
from shared.events import parse_model
from shared.settings import Settings

# Check conclusions that always pass or always fail (GitHub REST "Check runs": conclusion is
# success|failure|neutral|cancelled|skipped|timed_out|action_required|stale; commit status
# states are success|failure|error|pending).
_ALWAYS_PASS = frozenset({"success"})
_POLICY_DEPENDENT = frozenset({"neutral", "skipped"})

SQL_POLICY = """
SELECT document, version FROM codex_judge.policies WHERE repository = :repository
"""


class Policy(BaseModel):
    """One repository's rules for CI, review and the judge.

    Attributes:
        required_checks: check run names / commit status contexts that must pass; empty means
            every check reported on the commit is required.
        neutral_is_success: a ``neutral`` conclusion passes (default True).
        skipped_is_success: a ``skipped`` conclusion passes (default True).
        ai_reviewer_logins: GitHub logins whose reviews count as the AI review
            (compared case-insensitively).
        require_ai_review: without an AI review at the head SHA the review gate stays pending.
        no_op_markers: strings in the notify summary that make an empty diff acceptable.
        max_attempts: the attempt cap for reruns.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    required_checks: list[str] = Field(default_factory=list)
    neutral_is_success: bool = True
    skipped_is_success: bool = True
    ai_reviewer_logins: list[str] = Field(default_factory=list)
    require_ai_review: bool = True
    no_op_markers: list[str] = Field(default_factory=list)
    max_attempts: int = Field(default=3, ge=1, le=20)

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


def effective_policy(tx: Tx, settings: Settings, repository: str | None) -> tuple[Policy, str]:
    """The policy in force for ``repository`` (``owner/name``) and its SHA-256 hash.

    Raises:
        InvalidDataError: the stored policy pack is invalid (see :func:`merge_policy`).
    """
    policy = default_policy(settings)
    if repository:
        row = tx.one(SQL_POLICY, repository=repository)
        if row is not None:
            policy = merge_policy(policy, row["document"], repository=repository)
    return policy, policy.digest()
