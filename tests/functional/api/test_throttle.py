"""Failed sign-ins are counted in Postgres per client address and window, over real HTTP: the
login form answers 429 with Retry-After once an address is past the limit (even for a right
token, until the window ends), wrong bearer tokens likewise; other addresses (behind trusted
proxies, X-Forwarded-For) are unaffected; no token is stored or logged."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.db import Database
from shared.settings import Settings
from tests.support.api_seed import OPERATOR, READ, api_settings

WINDOW_S = 600


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return api_settings(
        database_url,
        tmp_path,
        api_login_max_failures=3,
        api_bearer_max_failures=4,
        api_auth_window_s=WINDOW_S,
        api_proxy_hops=1,
    )


def _login(api: str, token: str, client: str) -> httpx.Response:
    return httpx.post(api + "/ui/login", data={"token": token}, headers={"X-Forwarded-For": client})


def _stored(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all(
            "SELECT scope, client, failures FROM runtime.auth_failures ORDER BY scope, client"
        )


def test_the_login_form_answers_429_with_retry_after_past_the_limit(
    api: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    attacker = "203.0.113.7"
    assert [_login(api, f"guess-{n}", attacker).status_code for n in range(3)] == [401] * 3
    blocked = _login(api, "guess-4", attacker)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= WINDOW_S
    assert "Too many failed logins" in blocked.text
    # Until the window ends, even the right token is not looked at from that address.
    assert _login(api, READ, attacker).status_code == 429
    # Another address (the proxy appended it; a client-written entry further left is ignored).
    assert _login(api, READ, f"{attacker}, 198.51.100.2").status_code == 302
    assert _stored(db) == [{"scope": "login", "client": attacker, "failures": 3}]
    assert not any("guess-" in r.getMessage() or READ in r.getMessage() for r in caplog.records)


def test_the_window_ending_lets_the_address_log_in_again(api: str, db: Database) -> None:
    for n in range(3):
        _login(api, f"guess-{n}", "203.0.113.8")
    assert _login(api, READ, "203.0.113.8").status_code == 429
    with db.transaction() as tx:  # the window the failures were counted in has passed
        tx.run(
            "UPDATE runtime.auth_failures SET window_start = window_start"
            " - make_interval(secs => :s)",
            s=WINDOW_S,
        )
    assert _login(api, READ, "203.0.113.8").status_code == 302


def test_wrong_bearer_tokens_are_answered_429_past_the_limit_and_right_ones_still_work(
    api: str, db: Database
) -> None:
    def get(token: str, client: str = "192.0.2.9") -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": client}
        return httpx.get(api + "/api/runs", headers=headers)

    assert [get(f"wrong-{n}").status_code for n in range(4)] == [401] * 4
    past = get("wrong-5")
    assert past.status_code == 429 and int(past.headers["Retry-After"]) >= 1
    assert past.json()["error"] == "TooManyRequests"
    assert get(OPERATOR).status_code == 200  # the limit bounds guessing noise, not a right token
    assert get("wrong-6", client="192.0.2.10").status_code == 401  # per address
    assert _stored(db) == [
        {"scope": "bearer", "client": "192.0.2.10", "failures": 1},
        {"scope": "bearer", "client": "192.0.2.9", "failures": 5},
    ]


def test_a_wrong_token_on_the_agent_stream_is_counted_too(api: str, db: Database) -> None:
    headers = {"Authorization": "Bearer wrong", "X-Forwarded-For": "192.0.2.77"}
    assert httpx.get(api + "/api/agents/events", headers=headers).status_code == 401
    assert _stored(db) == [{"scope": "bearer", "client": "192.0.2.77", "failures": 1}]
