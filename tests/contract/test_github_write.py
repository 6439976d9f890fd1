"""The GitHub write port: HttpxGitHubWriter against FakeGitHub's write routes over real HTTP,
seeded with the recorded cpython PR #1 and checked against recorded answer shapes (GitHub's
merge-result example and a recorded 422 "Validation Failed")."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.adapters.github_write import HttpxGitHubWriter
from shared.errors import UpstreamError
from shared.local.fakes import github as fake_github
from shared.local.fakes.base import ServedFake, serve_fake
from shared.settings import Settings
from tests.contract import corpus

REPO = "python/cpython"
MERGE_EXAMPLE = corpus.load_json(
    "github-rest/pulls.merge.put-200.openapi-example.rest-api-description.json"
)
VALIDATION_FAILED = corpus.load_json(
    "github-rest/errors.422-validation-failed.normalized.octokit-fixtures.json"
)[0]["response"]


def _open_pull() -> dict[str, Any]:
    """The recorded (merged) cpython PR #1, reopened so it can be merged again."""
    pull = copy.deepcopy(corpus.recorded_pull())
    pull.update(state="open", merged=False, mergeable=True, mergeable_state="clean")
    pull.setdefault("node_id", "MDExOlB1bGxSZXF1ZXN0MTE3NDU0ODk0")
    return pull


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(fake_github.create_app({"pulls": {corpus.PR_KEY: _open_pull()}}))
    yield served
    served.stop()


@pytest.fixture
def writer(fake: ServedFake) -> Iterator[HttpxGitHubWriter]:
    adapter = HttpxGitHubWriter.from_settings(
        Settings(github_api_url=fake.url, github_token="ghs_contract_token")
    )
    assert isinstance(adapter, HttpxGitHubWriter)
    yield adapter
    adapter.close()


def _state(fake: ServedFake) -> dict[str, Any]:
    return dict(httpx.get(f"{fake.url}/_fake/state").json())


def _head() -> str:
    return str(_open_pull()["head"]["sha"])


def test_merge_at_the_head_sha_answers_githubs_merge_result(
    writer: HttpxGitHubWriter, fake: ServedFake
) -> None:
    answer = writer.merge_pull(REPO, 1, sha=_head(), merge_method="squash", commit_title="t")

    assert answer.ok and answer.status == 200
    assert set(answer.body) == set(MERGE_EXAMPLE)
    assert answer.body["merged"] is True and len(answer.body["sha"]) == 40
    pull = _state(fake)["pulls"][corpus.PR_KEY]
    assert (pull["state"], pull["merged"], pull["merge_commit_sha"]) == (
        "closed",
        True,
        answer.body["sha"],
    )
    sent = httpx.get(f"{fake.url}/_fake/requests").json()["requests"][-1]
    assert sent["json"] == {"sha": _head(), "merge_method": "squash", "commit_title": "t"}
    assert sent["headers"]["Authorization"] == "Bearer ***"


def test_merge_with_a_stale_sha_is_a_409_answer_not_an_error(writer: HttpxGitHubWriter) -> None:
    answer = writer.merge_pull(REPO, 1, sha="0" * 40, merge_method="merge", commit_title=None)
    assert (answer.ok, answer.status) == (False, 409)
    assert answer.message == "Head branch was modified. Review and try the merge again."


def test_merging_twice_answers_405_not_mergeable(writer: HttpxGitHubWriter) -> None:
    writer.merge_pull(REPO, 1, sha=_head(), merge_method="merge", commit_title=None)
    again = writer.merge_pull(REPO, 1, sha=_head(), merge_method="merge", commit_title=None)
    assert (again.status, again.message) == (405, "Pull Request is not mergeable")


def test_an_unknown_merge_method_is_a_422_shaped_like_githubs(writer: HttpxGitHubWriter) -> None:
    answer = writer.merge_pull(REPO, 1, sha=_head(), merge_method="octopus", commit_title=None)
    assert answer.status == 422
    assert answer.message == VALIDATION_FAILED["message"]
    assert set(answer.body["errors"][0]) == set(VALIDATION_FAILED["errors"][0])


def test_a_5xx_raises_upstream_error(writer: HttpxGitHubWriter, fake: ServedFake) -> None:
    httpx.put(f"{fake.url}/_fake/state", json={**_state(fake), "write_failures": {"merge": 1}})
    with pytest.raises(UpstreamError):
        writer.merge_pull(REPO, 1, sha=_head(), merge_method="merge", commit_title=None)
    assert _state(fake)["merges"] == []


def test_branch_delete_then_delete_again_answers_204_then_422(
    writer: HttpxGitHubWriter,
) -> None:
    branch = str(_open_pull()["head"]["ref"])
    first = writer.delete_branch(REPO, branch)
    second = writer.delete_branch(REPO, branch)
    assert (first.status, second.status) == (204, 422)
    assert second.message == "Reference does not exist"


def test_a_branch_a_file_and_a_pull_request_are_created_and_read_back(
    writer: HttpxGitHubWriter, fake: ServedFake
) -> None:
    base_sha = "b" * 40
    created = writer.create_ref(REPO, ref="refs/heads/codex/prompt-tune", sha=base_sha)
    duplicate = writer.create_ref(REPO, ref="refs/heads/codex/prompt-tune", sha=base_sha)
    assert (created.status, duplicate.status) == (201, 422)

    put = writer.put_contents(
        REPO,
        ".codex/prompt.md",
        message="tune",
        content=b"Be precise.\n",
        branch="codex/prompt-tune",
    )
    assert put.status == 201
    read = writer.get_contents(REPO, ".codex/prompt.md", ref="codex/prompt-tune")
    assert base64.b64decode(read.body["content"]) == b"Be precise.\n"
    stale = writer.put_contents(
        REPO, ".codex/prompt.md", message="again", content=b"x", branch="codex/prompt-tune"
    )
    assert stale.status == 422  # updating an existing file needs its blob sha
    updated = writer.put_contents(
        REPO,
        ".codex/prompt.md",
        message="again",
        content=b"Be brief.\n",
        branch="codex/prompt-tune",
        sha=read.body["sha"],
    )
    assert updated.status == 200
    assert writer.get_contents(REPO, "missing.md").status == 404

    pull = writer.create_pull(
        REPO, title="Tune the prompt", head="codex/prompt-tune", base="main", body="evidence"
    )
    again = writer.create_pull(
        REPO, title="Tune the prompt", head="codex/prompt-tune", base="main", body="evidence"
    )
    assert pull.status == 201 and pull.body["number"] == 2
    assert again.status == 422
    assert [p["title"] for p in _state(fake)["created_pulls"]] == ["Tune the prompt"]


def test_a_pull_request_is_found_by_its_head_branch_in_any_state(
    writer: HttpxGitHubWriter,
) -> None:
    assert writer.find_pull(REPO, head="codex/prompt-tune") is None
    opened = writer.create_pull(
        REPO, title="Tune the prompt", head="codex/prompt-tune", base="main", body="evidence"
    )

    found = writer.find_pull(REPO, head="codex/prompt-tune")

    assert found is not None and found["number"] == opened.body["number"]
    assert found["html_url"] == opened.body["html_url"]
    assert writer.find_pull(REPO, head="codex/other-branch") is None


def test_revert_of_a_merged_pull_request_opens_a_revert_pull_request(
    writer: HttpxGitHubWriter, fake: ServedFake
) -> None:
    node_id = str(_open_pull()["node_id"])
    not_merged = writer.revert_pull(node_id)
    assert not not_merged.ok and not_merged.message == "Pull request is not merged"

    writer.merge_pull(REPO, 1, sha=_head(), merge_method="merge", commit_title=None)
    answer = writer.revert_pull(node_id, title="Revert: deploy verification failed")

    assert answer.ok
    reverted = answer.body["data"]["revertPullRequest"]["revertPullRequest"]
    assert reverted["number"] == 2 and reverted["url"].endswith(f"/{REPO}/pull/2")
    (revert,) = _state(fake)["reverts"]
    assert (revert["reverted_number"], revert["title"]) == (1, "Revert: deploy verification failed")
    assert not writer.revert_pull("PR_unknown").ok
