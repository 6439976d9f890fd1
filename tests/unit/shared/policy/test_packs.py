"""Policy packs: validation with the offending key's path, versions, and layer precedence."""

from __future__ import annotations

import pytest

from shared.db import Database
from shared.errors import InvalidDataError
from shared.policy.packs import get_pack, pack_history, parse_pack, set_pack
from shared.policy.resolution import effective_policy, resolve
from shared.settings import Settings

CENTRAL = """\
# the platform team's central pack
required_checks: [build, test]
protected_paths: ['^\\.github/', '^infra/']
anti_gaming_outcome: needs_human
ci_timeout_s: 1800
"""


def test_yaml_and_json_packs_parse_to_the_same_document() -> None:
    yaml_doc, yaml_fmt = parse_pack("strict: true\nmax_attempts: 2\n", root="policies[o/r]")
    json_doc, json_fmt = parse_pack('{"strict": true, "max_attempts": 2}', root="policies[o/r]")
    assert yaml_doc == json_doc == {"strict": True, "max_attempts": 2}
    assert (yaml_fmt, json_fmt) == ("yaml", "json")


def test_invalid_re2_pattern_is_rejected_with_its_path() -> None:
    with pytest.raises(InvalidDataError) as err:
        parse_pack("protected_paths: ['^docs/', '(?=lookahead)']\n", root="policies[o/r]")
    assert err.value.field == "policies[o/r].protected_paths.1"
    assert "RE2" in str(err.value)


def test_unknown_key_and_wrong_type_are_rejected_with_their_path() -> None:
    with pytest.raises(InvalidDataError) as err:
        parse_pack("antigaming_outcome: warn\n", root="policies[*]")
    assert err.value.field == "policies[*].antigaming_outcome"
    with pytest.raises(InvalidDataError) as err:
        parse_pack("required_checks: [{name: build, app_slugg: x}]\n", root="policies[o/r]")
    assert err.value.field == "policies[o/r].required_checks.0.app_slugg"


def test_oversized_or_non_mapping_pack_is_rejected() -> None:
    big = "no_op_markers:\n" + "".join(f"  - marker-{i:05d}-{'x' * 40}\n" for i in range(1500))
    with pytest.raises(InvalidDataError, match="limit is 65536"):
        parse_pack(big, root="policies[o/r]")
    with pytest.raises(InvalidDataError, match="must be a mapping"):
        parse_pack("- strict\n", root="policies[o/r]")
    with pytest.raises(InvalidDataError, match="not valid YAML"):
        parse_pack("strict: [true\n", root="policies[o/r]")


def test_every_set_is_a_new_version_and_old_ones_stay_readable(
    db: Database, settings: Settings
) -> None:
    with db.transaction() as tx:
        first = set_pack(tx, settings, "o/r", "max_attempts: 2\n", created_by="ops")
        second = set_pack(tx, settings, "o/r", '{"max_attempts": 5}')
    with db.transaction() as tx:
        current = get_pack(tx, "o/r")
        old = get_pack(tx, "o/r", 1)
        history = pack_history(tx, "o/r")
        policy, _ = effective_policy(tx, settings, "o/r")
    assert (first.version, second.version) == (1, 2)
    assert current is not None and current.document == {"max_attempts": 5}
    assert old is not None and old.source_text == "max_attempts: 2\n" and old.created_by == "ops"
    assert [h["version"] for h in history] == [1, 2] and policy.max_attempts == 5


def test_central_then_repository_then_repo_local_file(db: Database, settings: Settings) -> None:
    enabled = settings.model_copy(update={"policy_repo_local_enabled": True})
    with db.transaction() as tx:
        set_pack(tx, settings, "*", CENTRAL)
        set_pack(tx, settings, "o/r", "ci_timeout_s: 900\nstrict: true\n")
        other, _ = effective_policy(tx, settings, "o/other")
        repo, repo_hash = effective_policy(tx, settings, "o/r")
        ignored, ignored_hash = effective_policy(tx, settings, "o/r", repo_local="ci_timeout_s: 60")
        local = resolve(tx, enabled, "o/r", repo_local="ci_timeout_s: 60\n")
    assert other.required_check_names() == ["build", "test"] and other.ci_timeout_s == 1800
    assert repo.required_check_names() == ["build", "test"] and repo.strict
    assert repo.ci_timeout_s == 900 and (ignored.ci_timeout_s, ignored_hash) == (900, repo_hash)
    assert local.policy.ci_timeout_s == 60 and local.policy.protected_paths == [
        "^\\.github/",
        "^infra/",
    ]
    assert [layer["layer"] for layer in local.layers] == [
        "defaults",
        "central",
        "repository",
        "repo_local",
    ]


def test_repo_local_file_cannot_switch_a_gate_off(db: Database, settings: Settings) -> None:
    enabled = settings.model_copy(update={"policy_repo_local_enabled": True})
    with db.transaction() as tx, pytest.raises(InvalidDataError) as err:
        resolve(tx, enabled, "o/r", repo_local="anti_gaming_outcome: warn\n")
    assert err.value.field == "repo_local[.codex-judge/policy.yaml].anti_gaming_outcome"


def test_set_rejects_a_bad_repository_name(db: Database, settings: Settings) -> None:
    with db.transaction() as tx, pytest.raises(InvalidDataError) as err:
        set_pack(tx, settings, "not a repo", "strict: true")
    assert err.value.field == "repository"
