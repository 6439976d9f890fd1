"""HttpxLanguageModel: the :class:`shared.ports.LanguageModel` port over any OpenAI-compatible
``POST {base_url}/chat/completions`` with structured outputs.

The request carries ``response_format: {"type": "json_schema", "json_schema": {"name", "schema",
"strict": true}}`` (OpenAI "Structured Outputs"). The answer is ``choices[0]``: ``content``,
``refusal`` and ``finish_reason``, plus ``usage``. OpenAI-compatible servers differ in small
ways seen in recordings (Snowflake Cortex answers ``finish_reason: ""``, ``id: ""`` and
``refusal: ""``): empty strings are read as absent. Errors: 429 → :class:`RateLimitedError`
(``retry-after-ms``/``retry-after``, else 20 s); 5xx, timeouts → :class:`UpstreamError`;
other 4xx → :class:`UpstreamRejectedError` with the upstream's ``error.message``.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.adapters.http import bearer_client, body_json, raise_for_status, send
from shared.errors import UpstreamError
from shared.ports import ChatMessage, ChatResult
from shared.settings import Settings

SERVICE = "language model"
DEFAULT_RETRY_AFTER_S = 20.0


def _text(value: Any) -> str | None:
    """A string field where ``""`` and non-strings mean absent."""
    return value if isinstance(value, str) and value != "" else None


class HttpxLanguageModel:
    """An OpenAI-compatible chat completions client.

    Args:
        base_url: the API root including its version, e.g. ``https://api.openai.com/v1``.
        model: the model name sent with every request.
        api_key: a bearer key; None sends no ``Authorization``.
        timeout_s: per-request timeout in seconds.
        transport: an httpx transport (tests); None uses the network.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._client = bearer_client(
            self.base_url, token=api_key, timeout_s=timeout_s, transport=transport
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> HttpxLanguageModel:
        """Build from ``llm_base_url``, ``llm_model``, ``llm_api_key`` and ``llm_timeout_s``.

        Raises:
            ValueError: ``llm_base_url`` is not set (the offline judge is used instead).
        """
        if not settings.llm_base_url:
            raise ValueError("llm_base_url is not set; expected an OpenAI-compatible API root")
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            settings.llm_base_url,
            settings.llm_model,
            key,
            timeout_s=settings.llm_timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def complete_json(
        self,
        messages: list[ChatMessage],
        *,
        schema_name: str,
        schema: dict[str, Any],
        model: str | None = None,
    ) -> ChatResult:
        """One structured-output chat completion.

        Args:
            messages: the conversation, oldest first.
            schema_name: ``json_schema.name`` (``^[a-zA-Z0-9_-]{1,64}$`` per OpenAI).
            schema: the JSON Schema the answer must follow (strict mode).
            model: this call's model (policy ``judge_model``); None sends the configured one.

        Returns:
            ``choices[0]`` as a :class:`ChatResult`; ``content`` is JSON text, or ``refusal``
            is set; ``finish_reason`` ``length`` means the answer was cut off.

        Raises:
            RateLimitedError: 429.
            UpstreamError: 5xx, timeout, or a 200 whose body has no readable choice.
            UpstreamRejectedError: any other 4xx (names the upstream message).
        """
        payload = {
            "model": model or self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": True},
            },
            "stream": False,
        }
        resp = send(
            self._client, "POST", f"{self.base_url}/chat/completions", service=SERVICE, json=payload
        )
        raise_for_status(resp, service=SERVICE, default_retry_after=DEFAULT_RETRY_AFTER_S)
        body = body_json(resp)
        try:
            choice = body["choices"][0]
            message = choice.get("message") or {}
        except (TypeError, KeyError, IndexError, AttributeError) as exc:
            raise UpstreamError(
                "the language model answered 200 without choices[0]", service=SERVICE
            ) from exc
        usage = body.get("usage")
        return ChatResult(
            content=_text(message.get("content")),
            refusal=_text(message.get("refusal")),
            finish_reason=_text(choice.get("finish_reason")),
            model=_text(body.get("model")) or model or self.model,
            usage=usage if isinstance(usage, dict) else {},
        )
