"""The effective policy: defaults from settings, overridden by a repository's policy pack."""

from __future__ import annotations

import json

import pytest

from shared.db import Database
from shared.errors import InvalidDataError
from shared.policy.model import Policy, default_policy, merge_policy
from shared.policy.resolution import effective_policy
from shared.settings import Settings


def test_neutral_and_skipped_follow_one_rule_everywhere() -> None:
    lenient = Policy()
    strict = Policy(neutral_is_success=False, skipped_is_success=False)
    assert lenient.conclusion_passes("neutral") and lenient.conclusion_passes("skipped")
    assert not strict.conclusion_passes("neutral") and not strict.conclusion_passes("skipped")
    for bad in ("failure", "cancelled", "timed_out", "action_required", "stale", "error", None):
        assert not lenient.conclusion_passes(bad)


def test_policy_pack_overrides_only_the_keys_it_names() -> None:
    defaults = default_policy(Settings(required_checks="build,test"))
    merged = merge_policy(defaults, {"require_ai_review": False}, repository="o/r")
    assert merged.required_check_names() == ["build", "test"]
    assert merged.require_ai_review is False
    assert merged.digest() != defaults.digest()


def test_unknown_policy_key_is_rejected_with_its_path() -> None:
    with pytest.raises(InvalidDataError) as err:
        merge_policy(Policy(), {"requried_checks": ["build"]}, repository="o/r")
    assert err.value.field == "policies[o/r].requried_checks"


def test_effective_policy_reads_the_repository_row(db: Database, settings: Settings) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) "
            "VALUES ('o/r', CAST(:doc AS jsonb))",
            doc=json.dumps({"required_checks": ["ci/build"], "skipped_is_success": False}),
        )
        policy, digest = effective_policy(tx, settings, "o/r")
        other, other_digest = effective_policy(tx, settings, "o/other")
    assert policy.required_check_names() == ["ci/build"] and not policy.skipped_is_success
    assert other.required_check_names() == [] and digest != other_digest and len(digest) == 64
