"""The LanguageModel port: HttpxLanguageModel against the fake OpenAI-compatible server over real
HTTP, answering recorded OpenAI / OpenRouter / Snowflake bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.adapters.http import UpstreamRejectedError
from shared.adapters.llm import HttpxLanguageModel
from shared.errors import RateLimitedError, UpstreamError
from shared.local.fakes import openai as fake_openai
from shared.local.fakes.base import ServedFake, serve_fake
from shared.ports import ChatMessage
from shared.settings import Settings
from tests.contract import corpus

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["city", "temperature"],
    "properties": {"city": {"type": "string"}, "temperature": {"type": "number"}},
}
MESSAGES = [ChatMessage("system", "Answer as JSON."), ChatMessage("user", "Weather in SF?")]


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(fake_openai.create_app({"api_key": "sk-contract"}))
    yield served
    served.stop()


@pytest.fixture
def llm(fake: ServedFake) -> Iterator[HttpxLanguageModel]:
    settings = Settings(
        llm_base_url=f"{fake.url}/v1", llm_api_key="sk-contract", llm_model="gpt-4o-2024-08-06"
    )
    adapter = HttpxLanguageModel.from_settings(settings)
    yield adapter
    adapter.close()


def _queue(fake: ServedFake, *items: dict[str, Any]) -> None:
    httpx.put(
        f"{fake.url}/_fake/state", json={"api_key": "sk-contract", "responses": list(items)}
    ).raise_for_status()


def _complete(llm: HttpxLanguageModel) -> Any:
    return llm.complete_json(MESSAGES, schema_name="Weather", schema=SCHEMA)


def test_structured_output_returns_the_json_content_and_usage(
    llm: HttpxLanguageModel, fake: ServedFake
) -> None:
    _queue(fake, corpus.openai_body("chat.completion.structured-output.success.openai-python.json"))
    result = _complete(llm)
    assert result.content == '{"city":"San Francisco","temperature":65,"units":"f"}'
    assert result.refusal is None and result.finish_reason == "stop"
    assert result.model == "gpt-4o-2024-08-06" and result.usage["total_tokens"] == 93
    sent = httpx.get(f"{fake.url}/_fake/requests").json()["requests"][-1]
    assert sent["headers"]["Authorization"] == "Bearer ***"
    assert sent["json"]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Weather", "schema": SCHEMA, "strict": True},
    }
    assert sent["json"]["messages"][1] == {"role": "user", "content": "Weather in SF?"}


def test_refusal_is_reported_without_content(llm: HttpxLanguageModel, fake: ServedFake) -> None:
    _queue(fake, corpus.openai_body("chat.completion.refusal.openai-python.json"))
    result = _complete(llm)
    assert result.content is None
    assert result.refusal == "I'm very sorry, but I can't assist with that."


def test_cut_off_answer_reports_finish_reason_length(
    llm: HttpxLanguageModel, fake: ServedFake
) -> None:
    _queue(fake, corpus.openai_body("chat.completion.finish-reason-length.openai-python.json"))
    result = _complete(llm)
    assert result.finish_reason == "length" and result.content == '{"'


def test_openai_compatible_empty_strings_read_as_absent(
    llm: HttpxLanguageModel, fake: ServedFake
) -> None:
    recorded = corpus.vcr_response(
        "openai/vcr.chat.openai-compatible-snowflake-json-schema.pydantic-ai.yaml"
    )
    _queue(fake, recorded["body"])
    result = _complete(llm)
    assert result.content == '{"city": "Mexico City", "country": "Mexico"}'
    assert result.refusal is None and result.finish_reason is None
    assert result.model == "claude-sonnet-4-6"


def test_rate_limit_is_retryable_with_retry_after(
    llm: HttpxLanguageModel, fake: ServedFake
) -> None:
    recorded = corpus.vcr_response(
        "openai/vcr.chat.openai-compatible-openrouter-429.pydantic-ai.yaml"
    )
    _queue(fake, recorded, {**recorded, "headers": {"retry-after": "7"}})
    with pytest.raises(RateLimitedError, match="Provider returned error") as without_header:
        _complete(llm)
    with pytest.raises(RateLimitedError) as with_header:
        _complete(llm)
    assert without_header.value.retry_after == 20.0
    assert with_header.value.retry_after == 7.0


def test_bad_request_is_permanent_and_names_the_upstream_message(
    llm: HttpxLanguageModel, fake: ServedFake
) -> None:
    _queue(fake, corpus.vcr_response("openai/vcr.chat.400-unsupported-value.pydantic-ai.yaml"))
    with pytest.raises(UpstreamRejectedError, match="does not support 'developer'"):
        _complete(llm)


def test_server_error_and_empty_queue_are_upstream_errors(
    llm: HttpxLanguageModel, fake: ServedFake
) -> None:
    _queue(fake, {"status": 500, "body": {"error": {"message": "The server had an error"}}})
    with pytest.raises(UpstreamError, match="server had an error"):
        _complete(llm)
    with pytest.raises(UpstreamError, match="no queued response"):
        _complete(llm)


def test_wrong_api_key_is_rejected(fake: ServedFake) -> None:
    adapter = HttpxLanguageModel(f"{fake.url}/v1", "gpt-4o", "sk-wrong")
    with pytest.raises(UpstreamRejectedError, match="Incorrect API key"):
        _complete(adapter)


def test_embeddings_are_deterministic_when_nothing_is_queued(fake: ServedFake) -> None:
    headers = {"Authorization": "Bearer sk-contract"}
    body = {"model": "text-embedding-3-small", "input": ["same text", "other text"]}
    first = httpx.post(f"{fake.url}/v1/embeddings", json=body, headers=headers).json()
    again = httpx.post(f"{fake.url}/v1/embeddings", json=body, headers=headers).json()
    assert first["data"] == again["data"]
    assert first["data"][0]["embedding"] != first["data"][1]["embedding"]
