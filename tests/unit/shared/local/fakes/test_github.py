"""FakeGitHub wire details other engineers rely on: combined status rule, 404 body, headers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.local.fakes import github as fake_github
from shared.local.fakes.base import ServedFake, serve_fake

REPO = "octo-org/octo-repo"
SHA = "a" * 40


def _status(context: str, state: str) -> dict[str, str]:
    return {"context": context, "state": state}


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(
        fake_github.create_app(
            {
                "statuses": {
                    f"{REPO}@{SHA}": [_status("ci/a", "success"), _status("ci/b", "pending")],
                    f"{REPO}@{'b' * 40}": [
                        _status("ci/a", "success"),
                        _status("ci/b", "error"),
                        _status("ci/c", "pending"),
                    ],
                    f"{REPO}@{'c' * 40}": [_status("ci/a", "success")],
                }
            }
        )
    )
    yield served
    served.stop()


@pytest.mark.parametrize(
    ("sha", "state"),
    [(SHA, "pending"), ("b" * 40, "failure"), ("c" * 40, "success"), ("d" * 40, "pending")],
)
def test_combined_status_follows_githubs_rule(fake: ServedFake, sha: str, state: str) -> None:
    body = httpx.get(f"{fake.url}/repos/{REPO}/commits/{sha}/status").json()
    assert body["state"] == state


def test_missing_pull_is_githubs_404_with_rate_limit_headers(fake: ServedFake) -> None:
    resp = httpx.get(f"{fake.url}/repos/{REPO}/pulls/5")
    assert resp.status_code == 404
    assert resp.json()["message"] == "Not Found"
    for header in (
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-used",
    ):
        assert header in resp.headers


def test_remaining_budget_counts_down_to_a_403(fake: ServedFake) -> None:
    httpx.put(f"{fake.url}/_fake/state", json={"rate_limit": {"remaining": 1, "reset": 1}})
    ok = httpx.get(f"{fake.url}/repos/{REPO}/commits/{SHA}/status")
    limited = httpx.get(f"{fake.url}/repos/{REPO}/commits/{SHA}/status")
    assert ok.status_code == 200 and ok.headers["x-ratelimit-remaining"] == "0"
    assert limited.status_code == 403
    assert "rate limit exceeded" in limited.json()["message"]


def test_issue_comments_are_served_in_pages_like_github() -> None:
    import json
    from pathlib import Path

    recorded = json.loads(
        (
            Path(__file__).resolve().parents[4]
            / "fixtures/corpus/github-webhooks"
            / "issue_comment.created.on-pr.prow.json"
        ).read_text()
    )["comment"]
    comments = [{**recorded, "id": recorded["id"] + n} for n in range(3)]
    served = serve_fake(fake_github.create_app({"comments": {f"{REPO}#7": comments}}))
    try:
        first = httpx.get(f"{served.url}/repos/{REPO}/issues/7/comments", params={"per_page": 2})
        assert [c["id"] for c in first.json()] == [c["id"] for c in comments[:2]]
        assert 'rel="next"' in first.headers["link"]
        rest = httpx.get(first.links["next"]["url"])
        assert [c["body"] for c in rest.json()] == [recorded["body"]]
        assert "comments" in httpx.get(f"{served.url}/_fake/state").json()
    finally:
        served.stop()
