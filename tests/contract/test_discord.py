"""The Discord port: HttpxDiscord against the fake webhook over real HTTP (corpus gap 1: no
licensed recording exists, so the fake follows Discord's API reference)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from shared.adapters.discord import HttpxDiscord
from shared.adapters.http import UpstreamRejectedError
from shared.errors import InvalidDataError, RateLimitedError, UpstreamError
from shared.local.fakes import discord as fake_discord
from shared.local.fakes.base import ServedFake, serve_fake
from shared.settings import Settings


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(fake_discord.create_app())
    yield served
    served.stop()


@pytest.fixture
def discord(fake: ServedFake) -> Iterator[HttpxDiscord]:
    url = f"{fake.url}/api/webhooks/1234567890/contract-token"
    adapter = HttpxDiscord.from_settings(Settings(discord_webhook_url=SecretStr(url)))
    yield adapter
    adapter.close()


def _state(fake: ServedFake) -> dict:
    return dict(httpx.get(f"{fake.url}/_fake/state").json())


def test_post_returns_the_message_id_and_never_pings(
    discord: HttpxDiscord, fake: ServedFake
) -> None:
    message = discord.post("codex-judge: pass")
    stored = _state(fake)["messages"]
    assert [m["content"] for m in stored] == ["codex-judge: pass"]
    assert message.id == stored[0]["id"] and message.channel_id == stored[0]["channel_id"]
    assert stored[0]["allowed_mentions"] == {"parse": []}
    request = httpx.get(f"{fake.url}/_fake/requests").json()["requests"][0]
    assert request["query"] == {"wait": "true"}


def test_bot_mode_repeats_of_a_notice_get_the_message_discord_already_made(
    fake: ServedFake,
) -> None:
    bot = HttpxDiscord.from_settings(
        Settings(
            discord_bot_token=SecretStr("bot-token"),
            discord_channel_id="42",
            discord_api_url=f"{fake.url}/api/v10",
        )
    )
    first = bot.post("codex-judge: pass", nonce="n" * 40)  # cut to Discord's 25 characters
    again = bot.post("codex-judge: pass", nonce="n" * 40)  # the worker died before the record
    other = bot.post("codex-judge: needs human", nonce="m" * 25)
    stored = _state(fake)["messages"]
    assert [m["content"] for m in stored] == ["codex-judge: pass", "codex-judge: needs human"]
    assert first.id == again.id != other.id
    sent = httpx.get(f"{fake.url}/_fake/requests").json()["requests"][0]
    assert (sent["json"]["nonce"], sent["json"]["enforce_nonce"]) == ("n" * 25, True)
    bot.close()


def test_rate_limit_uses_the_body_retry_after_in_seconds(
    discord: HttpxDiscord, fake: ServedFake
) -> None:
    httpx.put(f"{fake.url}/_fake/state", json={"rate_limit_next": 1, "retry_after": 2.75})
    with pytest.raises(RateLimitedError) as caught:
        discord.post("hello")
    assert caught.value.retry_after == 2.75
    assert _state(fake)["messages"] == []
    discord.post("hello")
    assert len(_state(fake)["messages"]) == 1


def test_rate_limit_without_a_body_falls_back_to_the_header() -> None:
    adapter = HttpxDiscord(
        "https://discord.test/api/webhooks/1/t",
        transport=httpx.MockTransport(
            lambda _: httpx.Response(429, headers={"Retry-After": "3"}, text="slow down")
        ),
    )
    with pytest.raises(RateLimitedError) as caught:
        adapter.post("hello")
    assert caught.value.retry_after == 3.0


def test_content_over_2000_characters_is_refused_before_sending(
    discord: HttpxDiscord, fake: ServedFake
) -> None:
    with pytest.raises(InvalidDataError) as caught:
        discord.post("x" * 2001)
    assert caught.value.field == "content"
    assert httpx.get(f"{fake.url}/_fake/requests").json()["requests"] == []


def test_fake_rejects_long_content_like_discord(fake: ServedFake) -> None:
    resp = httpx.post(f"{fake.url}/api/webhooks/1/t", json={"content": "x" * 2001})
    assert resp.status_code == 400
    assert resp.json()["code"] == 50035
    assert "content" in resp.json()["errors"]


def test_server_error_is_retryable_and_bad_request_is_not() -> None:
    answers = iter(
        [
            httpx.Response(502, text="Bad Gateway"),
            httpx.Response(400, json={"code": 50006, "message": "Cannot send an empty message"}),
        ]
    )
    adapter = HttpxDiscord(
        "https://discord.test/api/webhooks/1/t",
        transport=httpx.MockTransport(lambda _: next(answers)),
    )
    with pytest.raises(UpstreamError):
        adapter.post("hello")
    with pytest.raises(UpstreamRejectedError, match="Cannot send an empty message"):
        adapter.post("hello")
