"""HttpxEmbeddings against the fake OpenAI-compatible server over real HTTP, answering its
deterministic embeddings and the recorded OpenAI bodies (base64 success, 404 model_not_found)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
import pytest

from shared.adapters.embeddings import EmbeddingDimensionError, HttpxEmbeddings
from shared.adapters.http import UpstreamRejectedError
from shared.bootstrap import embedder_for
from shared.errors import RateLimitedError, UpstreamError
from shared.local.fakes import openai as fake_openai
from shared.local.fakes.base import ServedFake, serve_fake
from shared.memories.embedder import HashingEmbedder
from shared.settings import Settings
from tests.contract import corpus

BASE64_OK = "openai/vcr.embeddings.base64.pydantic-ai.yaml"
MODEL_404 = "openai/vcr.embeddings.404-model-not-found.pydantic-ai.yaml"


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(fake_openai.create_app({"api_key": "sk-embed"}))
    yield served
    served.stop()


def _client(fake: ServedFake, dimension: int, **settings: object) -> HttpxEmbeddings:
    client = embedder_for(
        Settings(
            embeddings_base_url=f"{fake.url}/v1",
            embeddings_api_key="sk-embed",
            embeddings_dimension=dimension,
            **settings,
        )
    )
    assert isinstance(client, HttpxEmbeddings)
    return client


def _queue(fake: ServedFake, *items: dict[str, object]) -> None:
    httpx.put(f"{fake.url}/_fake/state", json={"responses": list(items)}).raise_for_status()


def test_without_an_endpoint_the_offline_hashing_embedder_is_used() -> None:
    embedder = embedder_for(Settings(embeddings_dimension=32))
    assert isinstance(embedder, HashingEmbedder) and embedder.dimension == 32


def test_one_request_embeds_every_input_in_order_with_the_configured_dimension(
    fake: ServedFake,
) -> None:
    client = _client(fake, 16, embeddings_model="text-embedding-3-small")
    vectors = client.embed(["run summary", "decision", "run summary"])

    assert [len(v) for v in vectors] == [16, 16, 16]
    assert vectors[0] == vectors[2] != vectors[1]
    [request] = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    body = request["json"]
    assert body["input"] == ["run summary", "decision", "run summary"]
    assert body["dimensions"] == 16 and body["encoding_format"] == "base64"
    assert client.label == "openai-compatible:text-embedding-3-small"


def test_recorded_base64_answer_is_decoded_to_float32_values(fake: ServedFake) -> None:
    _queue(fake, corpus.vcr_response(BASE64_OK))
    [vector] = _client(fake, 1536).embed(["Hello, world!"])

    assert len(vector) == 1536
    # OpenAI embeddings are normalised to length 1; a wrong decoding would not be.
    assert math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-3)


def test_recorded_404_model_not_found_is_a_permanent_rejection(fake: ServedFake) -> None:
    _queue(fake, corpus.vcr_response(MODEL_404))
    with pytest.raises(UpstreamRejectedError) as caught:
        _client(fake, 1536).embed(["Hello, world!"])
    assert caught.value.status == 422 and "does not exist" in caught.value.message


def test_server_errors_and_rate_limits_are_transient(fake: ServedFake) -> None:
    _queue(
        fake,
        {"status": 503, "body": {"error": {"message": "overloaded", "type": "server_error"}}},
        {
            "status": 429,
            "body": {"error": {"message": "slow down"}},
            "headers": {"retry-after": "7"},
        },
    )
    client = _client(fake, 8)
    with pytest.raises(UpstreamError) as unavailable:
        client.embed(["a"])
    assert unavailable.value.status == 503
    with pytest.raises(RateLimitedError) as limited:
        client.embed(["a"])
    assert limited.value.retry_after == 7


def test_vectors_of_another_dimension_name_the_setting(fake: ServedFake) -> None:
    # Without `dimensions` in the request the fake answers 8 dimensions.
    client = _client(fake, 16, embeddings_send_dimensions=False)
    with pytest.raises(EmbeddingDimensionError) as caught:
        client.embed(["a"])
    assert caught.value.field == "embeddings_dimension" and "8-dimensional" in caught.value.message


def test_an_answer_missing_an_embedding_is_transient_not_a_partial_set(fake: ServedFake) -> None:
    one = {"object": "list", "model": "m", "data": [{"index": 0, "embedding": [1.0] * 8}]}
    _queue(fake, one)
    with pytest.raises(UpstreamError) as caught:
        _client(fake, 8).embed(["a", "b"])
    assert "for 2 inputs" in caught.value.message
