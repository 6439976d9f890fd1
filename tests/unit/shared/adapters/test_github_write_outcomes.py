"""How GitHub's answers to writes become outcomes, and who may be written to (no I/O)."""

from __future__ import annotations

import pytest

from functions.merge.usecase import classify_merge, merge_key
from shared.effects.writes import default_outcome, is_allowed
from shared.ports import WriteAnswer
from shared.settings import Settings
from tests.contract import corpus

MERGE_EXAMPLE = corpus.load_json(
    "github-rest/pulls.merge.put-200.openapi-example.rest-api-description.json"
)


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, MERGE_EXAMPLE, "merged"),
        (405, {"message": "Pull Request is not mergeable"}, "not_mergeable"),
        (
            409,
            {"message": "Head branch was modified. Review and try the merge again."},
            "head_moved",
        ),
        (422, {"message": "Validation Failed", "errors": []}, "rejected"),
        (404, {"message": "Not Found"}, "rejected"),
        (200, {"merged": False, "message": "not merged"}, "rejected"),
    ],
)
def test_merge_answers_are_decisions(status: int, body: dict[str, object], outcome: str) -> None:
    assert classify_merge(WriteAnswer(status, body)) == outcome


def test_a_graphql_answer_with_errors_is_not_ok_and_names_the_error() -> None:
    answer = WriteAnswer(200, {"errors": [{"type": "NOT_FOUND", "message": "Could not resolve"}]})
    assert not answer.ok
    assert answer.message == "Could not resolve"
    assert default_outcome(answer) == "rejected_200"
    assert default_outcome(WriteAnswer(201, {"number": 2})) == "success"


def test_only_allow_listed_repositories_may_be_written_case_insensitively() -> None:
    settings = Settings(github_write_allowlist="Octo-Org/Octo-Repo, python/cpython")
    assert is_allowed(settings, "octo-org/octo-repo")
    assert is_allowed(settings, "python/cpython")
    assert not is_allowed(settings, "python/cpython-fork")
    assert not is_allowed(Settings(), "python/cpython")


def test_the_merge_key_pins_repository_pull_request_and_head_sha() -> None:
    assert merge_key("python/cpython", 1, "a" * 40) == f"merge:python/cpython#1@{'a' * 40}"
