"""GitHub requests per judged run over the whole pipeline (issue 12), counted from the fake
GitHub's request log: a passing run on a realistic pull request (40 check runs, 3 review
threads, 25 files) goes through ci-status, review-gate, the judge and merge (and every other
subscriber the Triggers name) in process, over real HTTP to the fake and real Postgres."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.github_requests import CHECK_RUNS, FILES, REPO, THREADS, judged_run, realistic_state
from shared.bootstrap import Container
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app

BUDGET = 6  # the ceiling: GitHub requests per judged run


@pytest.fixture
def github(deps: Container) -> Iterator[tuple[ServedFake, dict]]:
    state, pull = realistic_state()
    fake = serve_fake(create_app(state))
    deps.settings.github_api_url = fake.url
    deps.settings.github_write_allowlist = [REPO]
    yield fake, pull
    fake.stop()


def test_a_passing_run_costs_at_most_six_github_requests(
    deps: Container, github: tuple[ServedFake, dict]
) -> None:
    fake, pull = github
    counts = judged_run(deps, fake, pull)
    sha, number = pull["head"]["sha"], pull["number"]
    assert counts.decisions == ["pass"]  # one decision, replied once
    assert counts.requests <= BUDGET
    # One GraphQL read per decision point, the diff once per head SHA: a new read anywhere
    # in the pipeline fails here, naming the route.
    assert dict(counts.by_route) == {
        "graphql CommitChecks": 1,  # ci-status
        "graphql PullReviews": 1,  # review-gate
        "graphql PullLiveState": 2,  # the judge, merge's drift check
        f"GET /repos/{REPO}/pulls/{number} (diff)": 1,  # the judge's gates
    }, counts.by_route
    assert counts.graphql_points == 4
    assert counts.recorded_points == 4  # recorded per run (codex_judge.runs)
    assert sha and CHECK_RUNS == 40 and THREADS == 3 and FILES == 25
