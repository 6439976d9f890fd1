"""Properties of the api over real HTTP: whatever the query string or path, a token-holder gets
a 2xx or a 4xx naming the parameter, never a 5xx (what a schemathesis run against
/openapi.json checks, drawn here with hypothesis from the same parameter names)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from shared.settings import Settings

TOKEN = "read-token-properties"
PROPERTY = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PARAMETERS = [
    "repository",
    "issue",
    "status",
    "decision",
    "reason",
    "since",
    "until",
    "limit",
    "cursor",
    "subscriber",
    "replayed",
    "other",
]
VALUES = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["needs_human", "pass", "2026-01-01T00:00:00Z", "a/b", "true", "0", "201"]),
)
SEGMENTS = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=25),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
).map(lambda segment: quote(segment, safe=""))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        github_api_url="http://127.0.0.1:9",
        api_read_tokens=[SecretStr(TOKEN)],
    )


@pytest.fixture
def client(function_url: Any) -> httpx.Client:
    return httpx.Client(base_url=function_url("api"), headers={"Authorization": f"Bearer {TOKEN}"})


def _check(resp: httpx.Response) -> None:
    assert resp.status_code < 500, resp.text
    if resp.status_code == 400:
        assert resp.json()["field"]


@PROPERTY
@given(params=st.dictionaries(st.sampled_from(PARAMETERS), VALUES, max_size=5))
def test_no_query_string_makes_a_list_fail(client: httpx.Client, params: dict[str, str]) -> None:
    for path in ("/api/runs", "/api/dead-letters", "/api/issues"):
        _check(client.get(path, params=params))


@PROPERTY
@given(run=SEGMENTS, owner=SEGMENTS, repo=SEGMENTS, number=SEGMENTS)
def test_no_path_makes_a_read_fail(
    client: httpx.Client, run: str, owner: str, repo: str, number: str
) -> None:
    _check(client.get(f"/api/runs/{run}"))
    _check(client.get(f"/api/github/pulls/{owner}/{repo}/{number}"))
    _check(client.post(f"/api/runs/{run}/cancel"))  # 403: the token only reads
