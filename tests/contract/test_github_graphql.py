"""The decision-point GraphQL reads (issue 12): HttpxGitHub against FakeGitHub over real HTTP.

Each read must see what the REST reads it replaces see (the same recorded objects), every
page of its connections, and GitHub's "not found" answers; its points are the answers'
``rateLimit.cost``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.adapters.github import HttpxGitHub
from shared.adapters.github_etags import CachedAnswer
from shared.errors import UpstreamError, UpstreamNotFoundError
from shared.local.fakes import github as fake_github
from shared.local.fakes.base import ServedFake, fake_store, serve_fake
from shared.settings import Settings
from tests.contract import corpus

SHA = "02a87ce98d14f4d9d6e72ade7b4146201657bb33"
REPO = "python/cpython"


def _thread(index: int) -> dict[str, Any]:
    return {
        "id": f"PRRT_kwDOAbc{index:04d}",
        "isResolved": index % 3 == 0,
        "isOutdated": False,
        "path": "Lib/os.py",
        "line": index,
        "comments": {"nodes": [{"author": {"login": "bot"}, "body": f"c{index}", "url": None}]},
    }


def _seed() -> dict[str, Any]:
    pull = corpus.recorded_pull()
    pull["head"]["sha"] = SHA
    suite = {"id": 5, "head_sha": SHA, "status": "completed", "conclusion": "success"}
    return {
        "pulls": {corpus.PR_KEY: pull},
        "check_runs": {f"{REPO}@{SHA}": corpus.check_runs_for(SHA, 231)},
        "check_suites": {f"{REPO}@{SHA}": [{**suite, "latest_check_runs_count": 231}]},
        "statuses": {f"{REPO}@{SHA}": corpus.recorded_statuses()},
        "reviews": {corpus.PR_KEY: corpus.recorded_reviews()},
        "pull_files": {
            corpus.PR_KEY: [
                {"filename": f"Lib/mod{i}.py", "status": "modified", "additions": i, "deletions": 1}
                for i in range(130)
            ]
        },
        "review_threads": {corpus.PR_KEY: [_thread(i) for i in range(105)]},
    }


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(fake_github.create_app(_seed()))
    yield served
    served.stop()


@pytest.fixture
def github(fake: ServedFake) -> Iterator[HttpxGitHub]:
    adapter = HttpxGitHub.from_settings(Settings(github_api_url=fake.url, github_token="ghs_t"))
    yield adapter
    adapter.close()


def _graphql_requests(fake: ServedFake) -> list[dict[str, Any]]:
    log = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    return [r for r in log if r["path"] == "/graphql"]


def test_commit_checks_see_what_the_rest_reads_see_over_every_page(
    github: HttpxGitHub, fake: ServedFake
) -> None:
    checks = github.commit_checks(REPO, SHA)

    rest = github.list_check_runs(REPO, SHA)
    assert len(checks.check_runs) == 231
    seen = {(r.id, r.name, r.status, r.conclusion, r.head_sha) for r in checks.check_runs}
    assert seen == {(r.id, r.name, r.status, r.conclusion, r.head_sha) for r in rest}
    rest_statuses = github.get_combined_status(REPO, SHA).statuses
    assert [(s.context, s.state) for s in checks.statuses] == [
        (s.context, s.state) for s in rest_statuses
    ]
    [suite] = checks.suites
    assert (suite.id, suite.status, suite.latest_check_runs_count) == (5, "completed", 231)
    pages = _graphql_requests(fake)
    # 231 check runs + the statuses are one rollup connection: 3 pages of 100; the suites'
    # connection is complete after the first and left out of the next requests.
    assert len(pages) == 3 and checks.points == 3
    assert [p["json"]["variables"]["withSuites"] for p in pages] == [True, False, False]


def test_pull_reviews_read_every_review_and_thread(github: HttpxGitHub) -> None:
    read = github.pull_reviews(REPO, 1)
    rest = github.list_reviews(REPO, 1)
    assert [
        (r.id, r.state, r.commit_id, r.user.login if r.user else None) for r in read.reviews
    ] == [(r.id, r.state, r.commit_id, r.user.login if r.user else None) for r in rest]
    assert [t.id for t in read.threads] == [f"PRRT_kwDOAbc{i:04d}" for i in range(105)]
    assert read.threads == github.list_review_threads(REPO, 1)


def test_pull_live_state_is_one_read_per_page_of_its_lists(
    github: HttpxGitHub, fake: ServedFake
) -> None:
    live = github.pull_live(REPO, 1)
    assert live is not None
    rest = github.get_pull(REPO, 1)
    assert rest is not None
    assert (live.pull.head.sha, live.pull.base.sha, live.pull.base.ref) == (
        rest.head.sha,
        rest.base.sha,
        rest.base.ref,
    )
    assert (live.pull.state, live.pull.mergeable, live.pull.number) == (
        rest.state,
        rest.mergeable,
        rest.number,
    )
    assert [(f.filename, f.status, f.additions) for f in live.files] == [
        (f.filename, f.status, f.additions) for f in github.list_pull_files(REPO, 1)
    ]
    assert len(live.threads) == 105 and len(live.check_runs) == 231
    assert len(_graphql_requests(fake)) == 3  # files 130, threads 105, contexts 231+


def test_unknown_pull_request_and_commit(github: HttpxGitHub, fake: ServedFake) -> None:
    assert github.pull_live(REPO, 999) is None
    with pytest.raises(UpstreamNotFoundError) as gone:
        github.pull_reviews(REPO, 999)
    assert gone.value.resource == "pull_request"
    fake_store(fake.server.app).state["graphql"] = {"missing_commits": ["f" * 40]}
    with pytest.raises(UpstreamNotFoundError) as missing:
        github.commit_checks(REPO, "f" * 40)
    assert missing.value.resource == "commit" and missing.value.ref == "f" * 40


def test_the_fake_answers_github_errors_for_bad_queries(fake: ServedFake) -> None:
    bad = httpx.post(f"{fake.url}/graphql", json={"query": "query { viewer: }"}).json()
    assert bad["errors"][0]["message"].startswith("Parse error on")
    missing = httpx.post(
        f"{fake.url}/graphql",
        json={"query": "query Q($number: Int!) { viewer { login } }", "variables": {}},
    ).json()
    assert missing["errors"][0]["message"] == (
        "Variable $number of type Int! was provided invalid value"
    )


def test_a_graphql_error_is_never_an_empty_read(github: HttpxGitHub, fake: ServedFake) -> None:
    fake_store(fake.server.app).state["errors"] = [
        {"status": 200, "path": "/graphql", "body": {"errors": [{"message": "Something"}]}}
    ]
    with pytest.raises(UpstreamError):
        github.commit_checks(REPO, SHA)


class _MemoryCache:
    """An in-memory :class:`~shared.adapters.github_etags.EtagCache`."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], CachedAnswer] = {}

    def get(self, url: str, credential: str) -> CachedAnswer | None:
        return self.answers.get((url, credential))

    def put(self, url: str, credential: str, answer: CachedAnswer) -> None:
        self.answers[(url, credential)] = answer


def test_the_diff_is_read_once_per_head_sha(fake: ServedFake) -> None:
    adapter = HttpxGitHub(fake.url, "ghs_t", etag_cache=_MemoryCache())
    try:
        first = adapter.get_pull_diff(REPO, 1, head_sha=SHA)
        again = adapter.get_pull_diff(REPO, 1, head_sha=SHA)
        moved = adapter.get_pull_diff(REPO, 1, head_sha="e" * 40)
    finally:
        adapter.close()
    assert first and first == again == moved and "diff --git a/Lib/mod0.py" in first
    log = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    assert [r["path"] for r in log] == ["/repos/python/cpython/pulls/1"] * 2  # SHA, then e…e
