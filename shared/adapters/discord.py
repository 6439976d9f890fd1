"""HttpxDiscord: the :class:`shared.ports.Discord` port over a Discord webhook or a bot token.

Bot-token mode (no webhook URL; ``discord_bot_token`` and ``discord_channel_id`` set) posts to
``{discord_api_url}/channels/{channel_id}/messages`` with ``Authorization: Bot <token>``
(Discord "Create Message"), same body and same error mapping, plus ``nonce`` with
``enforce_nonce``: a repeat of the same notice (its worker died after Discord answered, before the
record) gets the message Discord already created instead of a second one. A webhook has no
nonce: there that crash window can still post twice (the one at-least-once edge left).

``POST <webhook URL>?wait=true`` with ``{"content", "allowed_mentions": {"parse": []}}`` so a
message can never ping ``@everyone`` or a role (Discord "Execute Webhook", "Allowed Mentions").
Errors (Discord "Rate Limits"): 429 → :class:`RateLimitedError` with the body's ``retry_after``
(float seconds) or else the ``Retry-After`` header; 5xx and timeouts → :class:`UpstreamError`;
other 4xx (e.g. 50035 "Invalid Form Body") → :class:`UpstreamRejectedError`.
"""

from __future__ import annotations

import httpx

from shared.adapters.http import body_json, error_message, raise_for_status, send
from shared.errors import InvalidDataError, RateLimitedError
from shared.ports import DiscordMessage
from shared.settings import Settings

SERVICE = "Discord"
MAX_CONTENT = 2000
MAX_NONCE = 25
DEFAULT_RETRY_AFTER_S = 5.0


class HttpxDiscord:
    """A Discord webhook client.

    Args:
        webhook_url: ``https://discord.com/api/webhooks/{id}/{token}`` (a secret).
        timeout_s: per-request timeout in seconds.
        transport: an httpx transport (tests); None uses the network.
    """

    def __init__(
        self,
        webhook_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        bot_token: str | None = None,
    ) -> None:
        self._url = webhook_url
        headers = {"User-Agent": "codex-judge"}
        if bot_token:  # bot-token mode: webhook_url is the channel's messages URL
            headers["Authorization"] = f"Bot {bot_token}"
        self._bot = bool(bot_token)
        self._params = {} if bot_token else {"wait": "true"}
        self._client = httpx.Client(timeout=timeout_s, transport=transport, headers=headers)

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> HttpxDiscord:
        """Build from ``discord_webhook_url``, else (bot-token mode) from
        ``discord_bot_token`` + ``discord_channel_id`` + ``discord_api_url``.

        Raises:
            ValueError: neither mode is configured.
        """
        if settings.discord_webhook_url is not None:
            return cls(settings.discord_webhook_url.get_secret_value(), transport=transport)
        if settings.discord_bot_token is not None and settings.discord_channel_id:
            url = f"{settings.discord_api_url.rstrip('/')}/channels/{settings.discord_channel_id}"
            return cls(
                url + "/messages",
                transport=transport,
                bot_token=settings.discord_bot_token.get_secret_value(),
            )
        raise ValueError(
            "expected discord_webhook_url, or discord_bot_token with discord_channel_id"
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def post(self, content: str, *, nonce: str | None = None) -> DiscordMessage:
        """Post one message of at most 2000 characters.

        Returns:
            The acknowledged message (its id and channel id).

        Raises:
            InvalidDataError: ``content`` is empty or longer than 2000 characters.
            RateLimitedError: 429, with Discord's ``retry_after`` (seconds).
            UpstreamError: 5xx or no answer.
            UpstreamRejectedError: any other 4xx.
        """
        if not content or len(content) > MAX_CONTENT:
            raise InvalidDataError(
                f"a Discord message must have 1..{MAX_CONTENT} characters, got {len(content)}",
                field="content",
            )
        message: dict[str, object] = {"content": content, "allowed_mentions": {"parse": []}}
        if nonce and self._bot:  # Discord returns the message it made for this nonce already
            message.update(nonce=nonce[:MAX_NONCE], enforce_nonce=True)
        resp = send(
            self._client, "POST", self._url, service=SERVICE, params=self._params, json=message
        )
        if resp.status_code == 429:
            body = body_json(resp)
            retry = body.get("retry_after") if isinstance(body, dict) else None
            if not isinstance(retry, int | float):
                raise_for_status(resp, service=SERVICE, default_retry_after=DEFAULT_RETRY_AFTER_S)
            else:
                raise RateLimitedError(
                    f"Discord answered 429: {error_message(resp)}",
                    retry_after=float(retry),
                    service=SERVICE,
                    scope=resp.headers.get("x-ratelimit-scope"),
                )
        raise_for_status(resp, service=SERVICE)
        if resp.status_code == 204:
            return DiscordMessage(id=None)
        body = body_json(resp)
        if not isinstance(body, dict):
            return DiscordMessage(id=None)
        return DiscordMessage(id=_str(body.get("id")), channel_id=_str(body.get("channel_id")))


def _str(value: object) -> str | None:
    return None if value is None else str(value)
