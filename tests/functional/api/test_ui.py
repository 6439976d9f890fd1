"""The web UI over real HTTP (no browser): the login form opens an HttpOnly, SameSite=Strict
session cookie; pages need it; a rotated-out token's session stops working; actions need the
CSRF token and an operator's session; everything stored is shown escaped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shared import bootstrap
from shared.db import Database
from shared.settings import Settings
from tests.support.api_seed import OPERATOR, READ, Sink, api_settings, seed_run


@pytest.fixture
def settings(database_url: str, tmp_path: Path, broker: Sink) -> Settings:
    return api_settings(database_url, tmp_path, k_sink=broker.url)


def _login(api: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=api)
    resp = client.post("/ui/login", data={"token": token, "next": "/ui/runs"})
    assert resp.status_code == 302 and resp.headers["location"] == "/ui/runs"
    return client


def test_login_sets_an_httponly_strict_cookie_and_pages_need_it(api: str, db: Database) -> None:
    seed_run(db)
    anonymous = httpx.get(api + "/ui/runs")
    assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/ui/login")
    refused = httpx.post(api + "/ui/login", data={"token": "nope"})
    assert refused.status_code == 401 and "not accepted" in refused.text
    client = httpx.Client(base_url=api)
    cookie = client.post("/ui/login", data={"token": READ}).headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert READ not in cookie
    page = client.get("/ui/runs")
    assert page.status_code == 200 and "viewer (read)" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_a_rotated_out_tokens_session_stops_working(api: str, deps: Any) -> None:
    client = _login(api, READ)
    assert client.get("/ui/runs").status_code == 200
    rotated = deps.settings.model_copy(update={"api_read_tokens": [SecretStr("newer-token")]})
    bootstrap.install(bootstrap.Container(settings=rotated, db=deps.db))
    resp = client.get("/ui/runs")
    assert resp.status_code == 302 and "/ui/login" in resp.headers["location"]


def test_stored_text_is_escaped_and_the_run_links_its_policy(api: str, db: Database) -> None:
    run_id = seed_run(db)
    client = _login(api, READ)
    page = client.get(f"/ui/runs/{run_id}").text
    assert "seeded &lt;b&gt;reason&lt;/b&gt;" in page and "<b>reason</b>" not in page
    assert 'href="/ui/policies/acme/widgets"' in page
    policy = client.get("/ui/policies/acme/widgets")
    assert policy.status_code == 200 and "Hash (SHA-256)" in policy.text
    assert client.get("/ui/policies/acme/wid%20gets").status_code == 400
    issues = client.get("/ui/issues")
    assert issues.status_code == 200 and "Completion rate" in issues.text
    assert f'href="/ui/runs/{run_id}"' in issues.text
    bad = client.get("/ui/runs", params={"cursor": "nope"})
    assert bad.status_code == 400 and "cursor" in bad.text and "<h1>" in bad.text


def test_actions_need_the_csrf_token_and_an_operator(api: str, db: Database, broker: Sink) -> None:
    run_id = seed_run(db)
    viewer = _login(api, READ)
    page = viewer.get(f"/ui/runs/{run_id}").text
    assert "Approve" not in page  # no action forms for a read-only session
    viewer_csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)  # the logout form's
    assert viewer_csrf
    operator = _login(api, OPERATOR)
    page = operator.get(f"/ui/runs/{run_id}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    key = re.search(r'name="idempotency_key" value="([^"]+-approve)"', page)
    assert csrf and key
    forged = operator.post(f"/ui/runs/{run_id}/approve", data={"csrf_token": "x"})
    assert forged.status_code == 403 and broker.received == []
    read_only = viewer.post(f"/ui/runs/{run_id}/approve", data={"csrf_token": viewer_csrf[1]})
    assert read_only.status_code == 403 and "may only read" in read_only.text
    form = {"csrf_token": csrf.group(1), "idempotency_key": key.group(1), "comment": "ok"}
    for _ in range(2):  # a double submit acts once
        done = operator.post(f"/ui/runs/{run_id}/approve", data=form)
        assert done.status_code == 303
    assert "approved" in operator.get(done.headers["location"]).text
    assert len(broker.received) == 1


def test_a_needs_iteration_run_offers_rerun_but_not_approve(
    api: str, db: Database, broker: Sink
) -> None:
    run_id = seed_run(db, status="needs_iteration", decision="needs_iteration", reason="ci_failed")
    operator = _login(api, OPERATOR)
    page = operator.get(f"/ui/runs/{run_id}").text
    assert f'action="/ui/runs/{run_id}/rerun"' in page
    assert f'action="/ui/runs/{run_id}/approve"' not in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    key = re.search(r'name="idempotency_key" value="([^"]+-rerun)"', page)
    assert csrf and key
    form = {"csrf_token": csrf.group(1), "idempotency_key": key.group(1), "prompt": "again"}
    done = operator.post(f"/ui/runs/{run_id}/rerun", data=form)
    assert done.status_code == 303
    assert "rerun_requested" in operator.get(done.headers["location"]).text
    ((headers, _),) = broker.received
    assert headers["ce-decision"] == "needs_iteration"
