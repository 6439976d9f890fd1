"""The GitHub port: HttpxGitHub against FakeGitHub over real HTTP, seeded from recorded payloads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.adapters.github import HttpxGitHub
from shared.adapters.http import UpstreamRejectedError
from shared.errors import RateLimitedError, UpstreamError, UpstreamNotFoundError
from shared.local.fakes import github as fake_github
from shared.local.fakes.base import ServedFake, fake_store, serve_fake
from shared.settings import Settings
from tests.contract import corpus

SHA = "02a87ce98d14f4d9d6e72ade7b4146201657bb33"
REPO = "python/cpython"


def _thread(index: int, resolved: bool) -> dict[str, Any]:
    return {
        "id": f"PRRT_kwDOAbc{index:04d}",
        "isResolved": resolved,
        "isOutdated": index == 0,
        "path": "Lib/os.py",
        "line": 10 + index,
        "comments": {
            "nodes": [
                {
                    "author": {"login": "chatgpt-codex-connector[bot]"},
                    "body": f"P1: handle the error ({index})",
                    "url": f"https://github.com/{REPO}/pull/1#r{index}",
                }
            ]
        },
    }


def _seed() -> dict[str, Any]:
    return {
        "pulls": {corpus.PR_KEY: corpus.recorded_pull()},
        "check_runs": {f"{REPO}@{SHA}": corpus.check_runs_for(SHA, 31)},
        "statuses": {f"{REPO}@{SHA}": corpus.recorded_statuses()},
        "reviews": {corpus.PR_KEY: corpus.recorded_reviews()},
        "pull_files": {
            corpus.PR_KEY: [
                {
                    "filename": f"Lib/mod{i}.py",
                    "status": "modified",
                    "additions": i,
                    "deletions": 0,
                    "changes": i,
                    "patch": "@@ -1 +1 @@\n-a\n+b",
                }
                for i in range(130)
            ]
        },
        "review_threads": {corpus.PR_KEY: [_thread(i, i % 3 == 0) for i in range(105)]},
    }


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(fake_github.create_app(_seed()))
    yield served
    served.stop()


@pytest.fixture
def github(fake: ServedFake) -> Iterator[HttpxGitHub]:
    settings = Settings(github_api_url=fake.url, github_token="ghs_contract_token")
    adapter = HttpxGitHub.from_settings(settings)
    yield adapter
    adapter.close()


def _requests(fake: ServedFake) -> list[dict[str, Any]]:
    return list(httpx.get(f"{fake.url}/_fake/requests").json()["requests"])


def test_check_runs_are_read_from_every_page(github: HttpxGitHub, fake: ServedFake) -> None:
    with httpx.Client() as client:  # a smaller page size proves the adapter follows Link
        first = client.get(
            f"{fake.url}/repos/{REPO}/commits/{SHA}/check-runs", params={"per_page": 30}
        )
    assert 'rel="next"' in first.headers["Link"] and 'rel="last"' in first.headers["Link"]
    fake_store(fake.server.app).state["check_runs"][f"{REPO}@{SHA}"] = corpus.check_runs_for(
        SHA, 231
    )

    runs = github.list_check_runs(REPO, SHA)

    assert len(runs) == 231
    assert len({r.id for r in runs}) == 231
    assert {r.conclusion for r in runs} >= {"success", "failure", "skipped", None}
    pages = [r for r in _requests(fake) if r["path"].endswith("/check-runs")][1:]
    assert [p["query"].get("page", "1") for p in pages] == ["1", "2", "3"]
    assert all(p["query"]["per_page"] == "100" for p in pages)


def test_every_request_carries_token_accept_and_api_version(
    github: HttpxGitHub, fake: ServedFake
) -> None:
    github.get_pull(REPO, 1)
    headers = _requests(fake)[-1]["headers"]
    assert headers["Authorization"] == "Bearer ***"
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-Github-Api-Version"] == "2022-11-28"


def test_recorded_pull_request_is_read_with_its_head_sha(github: HttpxGitHub) -> None:
    pull = github.get_pull(REPO, 1)
    assert pull is not None
    assert pull.number == 1 and pull.head.sha == SHA and pull.state == "closed"


def test_missing_pull_request_is_none_not_an_error(github: HttpxGitHub) -> None:
    assert github.get_pull(REPO, 999) is None


def test_pull_files_and_reviews_span_pages(github: HttpxGitHub) -> None:
    files = github.list_pull_files(REPO, 1)
    reviews = github.list_reviews(REPO, 1)
    assert [f.filename for f in files] == [f"Lib/mod{i}.py" for i in range(130)]
    assert [r.user.login for r in reviews if r.user] == [
        r["user"]["login"] for r in corpus.recorded_reviews()
    ]
    assert {r.state for r in reviews} <= {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"}


def test_combined_status_keeps_every_recorded_context(github: HttpxGitHub) -> None:
    status = github.get_combined_status(REPO, SHA)
    recorded = corpus.recorded_statuses()
    assert status.state == "success"
    assert [s.context for s in status.statuses] == [s["context"] for s in recorded]


def test_combined_status_of_a_commit_without_statuses_is_pending(github: HttpxGitHub) -> None:
    status = github.get_combined_status(REPO, "f" * 40)
    assert status.state == "pending" and status.statuses == []


def test_review_threads_follow_graphql_cursors(github: HttpxGitHub, fake: ServedFake) -> None:
    threads = github.list_review_threads(REPO, 1)
    assert len(threads) == 105
    assert sum(not t.is_resolved for t in threads) == 70
    assert (
        threads[0].is_outdated and threads[0].comments[0].author == "chatgpt-codex-connector[bot]"
    )
    calls = [r["json"]["variables"] for r in _requests(fake) if r["path"] == "/graphql"]
    assert [c["after"] is None for c in calls] == [True, False]


def test_a_pull_request_graphql_cannot_resolve_is_not_found_never_an_empty_list(
    github: HttpxGitHub,
) -> None:
    with pytest.raises(UpstreamNotFoundError, match="Could not resolve to a PullRequest") as gone:
        github.list_review_threads(REPO, 404)
    assert (gone.value.reason, gone.value.repository, gone.value.ref) == (
        "pull_request_not_found",
        REPO,
        404,
    )


def test_other_graphql_errors_are_an_upstream_error_not_an_empty_list(
    github: HttpxGitHub, fake: ServedFake
) -> None:
    recorded = corpus.load_json("github-graphql/malformed-query-200.gidgethub.json")
    fake_store(fake.server.app).state["errors"].append(
        {"status": 200, "path": "/graphql", "body": recorded}
    )
    with pytest.raises(UpstreamError) as caught:
        github.list_review_threads(REPO, 1)
    assert not isinstance(caught.value, UpstreamNotFoundError)


def test_lists_of_a_pull_request_github_does_not_know_are_not_found(github: HttpxGitHub) -> None:
    for read in (github.list_reviews, github.list_pull_files):
        with pytest.raises(UpstreamNotFoundError) as gone:
            read(REPO, 404)
        assert gone.value.reason == "pull_request_not_found" and gone.value.ref == 404
        assert gone.value.status == 422  # never a 404 towards Knative (DESIGN §6)


def test_recorded_404_names_the_resource_from_the_path() -> None:
    body = corpus.load_json("github-rest/pulls.get.404.body.gidgethub.json")
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(404 if len(asked) < 3 else 410, json=body)

    adapter = HttpxGitHub("https://ghe.example/api/v3", "t", transport=httpx.MockTransport(answer))
    with pytest.raises(UpstreamNotFoundError, match="pull request python/cpython#7") as pull:
        adapter.list_reviews(REPO, 7)
    with pytest.raises(UpstreamNotFoundError) as commit:
        adapter.list_check_runs(REPO, SHA)
    with pytest.raises(UpstreamNotFoundError) as compare:
        adapter.compare_commits(REPO, "main", SHA)
    assert [pull.value.reason, commit.value.reason, compare.value.reason] == [
        "pull_request_not_found",
        "commit_not_found",
        "commit_not_found",
    ]
    assert compare.value.details["upstream_status"] == 410
    assert isinstance(compare.value, UpstreamRejectedError)  # callers that catch 4xx still do
    assert adapter.get_pull(REPO, 7) is None  # a value where the port promises one


def test_primary_rate_limit_waits_until_reset(github: HttpxGitHub, fake: ServedFake) -> None:
    reset = int(time.time()) + 120
    fake_store(fake.server.app).state["rate_limit"].update(remaining=0, reset=reset)
    with pytest.raises(RateLimitedError) as caught:
        github.list_check_runs(REPO, SHA)
    assert 100 <= caught.value.retry_after <= 121


def test_secondary_rate_limit_honours_retry_after(github: HttpxGitHub, fake: ServedFake) -> None:
    fake_store(fake.server.app).state["rate_limit"].update(
        secondary_next=1, secondary_retry_after=37
    )
    with pytest.raises(RateLimitedError) as caught:
        github.list_review_threads(REPO, 1)
    assert caught.value.retry_after == 37
    assert len(github.list_review_threads(REPO, 1)) == 105  # the next request goes through


def test_server_errors_and_bad_credentials_are_retryable() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/pulls/1"):
            return httpx.Response(502, json={"message": "Server Error"})
        return httpx.Response(
            401, json=corpus.load_json("github-graphql/bad-credentials-401.gidgethub.json")
        )

    adapter = HttpxGitHub("https://api.github.com", "t", transport=httpx.MockTransport(answer))
    with pytest.raises(UpstreamError):
        adapter.get_pull(REPO, 1)
    with pytest.raises(UpstreamError, match="Bad credentials"):
        adapter.list_review_threads(REPO, 1)


def test_validation_failure_is_permanent() -> None:
    recorded = corpus.load_json(
        "github-rest/errors.422-validation-failed.normalized.octokit-fixtures.json"
    )[0]
    adapter = HttpxGitHub(
        "https://api.github.com",
        "t",
        transport=httpx.MockTransport(
            lambda _: httpx.Response(recorded["status"], json=recorded["response"])
        ),
    )
    with pytest.raises(UpstreamRejectedError, match="Validation Failed"):
        adapter.list_pull_files(REPO, 1)


def test_unreachable_github_is_an_upstream_error() -> None:
    adapter = HttpxGitHub("http://127.0.0.1:9", None, timeout_s=2)
    with pytest.raises(UpstreamError, match="could not be reached"):
        adapter.list_check_runs(REPO, SHA)
