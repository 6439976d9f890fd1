"""The GitHub client against the fake over real HTTP: conditional requests (ETag/304 cached in
Postgres), GitHub App installation tokens, check suites and compare.

Check runs are the recorded webhook objects (tests/contract/corpus.py); the check-suites list
is the recorded github3.py cassette body.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.adapters.github import HttpxGitHub
from shared.adapters.github_auth import GitHubAppAuth
from shared.adapters.github_etags import PostgresEtagCache
from shared.adapters.github_write import HttpxGitHubWriter
from shared.db import Database
from shared.errors import UpstreamNotFoundError
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app
from shared.waits.escalation import INSTALLATION_NOT_FOUND, NOT_FOUND_REASONS
from tests.contract.corpus import betamax_body, check_runs_for

REPO = "octo/repo"
SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(create_app())
    yield served
    served.stop()


def seed(fake: ServedFake, state: dict[str, Any]) -> None:
    httpx.put(f"{fake.url}/_fake/state", json=state).raise_for_status()


def fake_state(fake: ServedFake) -> dict[str, Any]:
    return dict(httpx.get(f"{fake.url}/_fake/state").json())


def test_polling_131_check_runs_twice_costs_the_rate_limit_once(
    fake: ServedFake, db: Database
) -> None:
    runs = check_runs_for(SHA, 131)
    seed(fake, {"check_runs": {f"{REPO}@{SHA}": runs}, "rate_limit": {"remaining": 100}})
    client = HttpxGitHub(fake.url, "t0ken", etag_cache=PostgresEtagCache(db))
    first = client.list_check_runs(REPO, SHA)
    second = client.list_check_runs(REPO, SHA)
    assert len(first) == 131 and [r.id for r in second] == [r.id for r in first]
    state = fake_state(fake)
    assert state["stats"]["not_modified"] == 2  # both pages answered 304 the second time
    assert state["rate_limit"]["remaining"] == 98  # only the first poll's two pages counted
    assert (client.requests, client.not_modified) == (4, 2)


def test_a_changed_listing_is_read_again_not_served_from_the_cache(
    fake: ServedFake, db: Database
) -> None:
    runs = check_runs_for(SHA, 3)
    seed(fake, {"check_runs": {f"{REPO}@{SHA}": runs}})
    client = HttpxGitHub(fake.url, "t0ken", etag_cache=PostgresEtagCache(db))
    assert len(client.list_check_runs(REPO, SHA)) == 3
    seed(fake, {"check_runs": {f"{REPO}@{SHA}": check_runs_for(SHA, 4)}})
    assert len(client.list_check_runs(REPO, SHA)) == 4
    assert client.not_modified == 0


def test_cached_answers_are_kept_per_credential(fake: ServedFake, db: Database) -> None:
    seed(fake, {"check_runs": {f"{REPO}@{SHA}": check_runs_for(SHA, 2)}})
    cache = PostgresEtagCache(db)
    HttpxGitHub(fake.url, "token-a", etag_cache=cache).list_check_runs(REPO, SHA)
    other = HttpxGitHub(fake.url, "token-b", etag_cache=cache)
    other.list_check_runs(REPO, SHA)
    assert other.not_modified == 0  # token-b never reads token-a's cached answer


def _private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_app_auth_mints_one_installation_token_and_reuses_it(fake: ServedFake) -> None:
    seed(fake, {"check_runs": {f"{REPO}@{SHA}": check_runs_for(SHA, 1)}})
    auth = GitHubAppAuth(fake.url, app_id=4242, private_key=_private_key(), installation_id=7)
    client = HttpxGitHub(fake.url, auth=auth)
    client.list_check_runs(REPO, SHA)
    client.get_combined_status(REPO, SHA)
    requests = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    mints = [r for r in requests if r["path"] == "/app/installations/7/access_tokens"]
    assert len(mints) == 1 and auth.minted == 1
    reads = [r for r in requests if r["path"].startswith("/repos/")]
    assert len(reads) == 2
    assert all(r["headers"]["Authorization"] == "Bearer ***" for r in requests)


def test_an_uninstalled_app_is_a_recorded_not_found_not_a_retry(fake: ServedFake) -> None:
    seed(fake, {"check_runs": {f"{REPO}@{SHA}": check_runs_for(SHA, 1)}, "uninstalled": [7]})
    auth = GitHubAppAuth(fake.url, app_id=4242, private_key=_private_key(), installation_id=7)
    with pytest.raises(UpstreamNotFoundError) as gone:
        HttpxGitHub(fake.url, auth=auth).list_check_runs(REPO, SHA)
    assert gone.value.reason == "installation_not_found"  # the gates escalate with it
    assert INSTALLATION_NOT_FOUND in NOT_FOUND_REASONS


def test_an_expiring_installation_token_is_minted_again(fake: ServedFake) -> None:
    now = [time.time()]
    auth = GitHubAppAuth(
        fake.url, app_id=1, private_key=_private_key(), installation_id=7, clock=lambda: now[0]
    )
    first = auth.token()
    assert auth.token() == first  # cached while valid
    now[0] += 3600.0  # past the fake's one-hour expiry
    assert auth.token() != first and auth.minted == 2


def test_check_suites_come_from_every_page(fake: ServedFake) -> None:
    recorded = betamax_body(
        "github-rest/check-suites.for-ref.betamax.github3py.json", "check-suites?per_page=100"
    )
    suite = recorded["check_suites"][0]
    suites = [{**suite, "id": suite["id"] + i, "head_sha": SHA} for i in range(105)]
    seed(fake, {"check_suites": {f"{REPO}@{SHA}": suites}})
    listed = HttpxGitHub(fake.url, "t").list_check_suites(REPO, SHA)
    assert len(listed) == 105 and listed[0].app is not None


def test_rerequest_and_compare_speak_githubs_wire_format(fake: ServedFake) -> None:
    seed(
        fake,
        {
            "check_suites": {f"{REPO}@{SHA}": [{"id": 5, "head_sha": SHA, "status": "completed"}]},
            "compare": {
                f"{REPO}@main...{SHA}": {
                    "status": "behind",
                    "ahead_by": 0,
                    "behind_by": 3,
                    "merge_base_commit": {
                        "sha": "a" * 40,
                        "commit": {"committer": {"date": "2025-10-01T00:00:00Z"}},
                    },
                    "base_commit": {"sha": "b" * 40, "commit": {"committer": {"date": None}}},
                }
            },
        },
    )
    answer = HttpxGitHubWriter(fake.url, "t").rerequest_check_suite(REPO, 5)
    assert (answer.status, answer.ok) == (201, True)
    assert HttpxGitHubWriter(fake.url, "t").rerequest_check_suite(REPO, 6).status == 404
    client = HttpxGitHub(fake.url, "t")
    comparison = client.compare_commits(REPO, "main", SHA)
    assert (comparison.behind_by, comparison.merge_base.sha) == (3, "a" * 40)
    assert comparison.base.committed_at is None
