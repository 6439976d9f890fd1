"""HttpxEmbeddings: the :class:`shared.ports.Embedder` port over any
OpenAI-compatible ``POST {base_url}/embeddings``.

Request (OpenAI API reference, "Create embeddings"): ``{"model", "input": [texts],
"encoding_format": "float"|"base64", "dimensions"?}``. Answer: ``{"object": "list", "data":
[{"object": "embedding", "index", "embedding"}], "model", "usage"}`` where ``embedding`` is a
list of floats, or with ``base64`` the little-endian float32 bytes base64-encoded (what the
OpenAI SDKs ask for by default; see tests/fixtures/corpus/openai/vcr.embeddings.base64.*).
Either shape is read whatever was asked, and ``data`` is put back in ``index`` order.

Errors (shared mapping, :mod:`shared.adapters.http`): 429 → :class:`RateLimitedError`; 5xx,
timeouts or a 200 without a readable ``data`` → :class:`UpstreamError` (503, retried); other 4xx
(e.g. 404 ``model_not_found``) → ``UpstreamRejectedError`` (422); a vector of another length
than ``embeddings_dimension`` → :class:`EmbeddingDimensionError` (422).
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Sequence
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ValidationError

from shared.adapters.http import body_json, raise_for_status, send
from shared.errors import PermanentError, UpstreamError
from shared.settings import Settings

SERVICE = "embeddings"
#: ``kind`` of the vectors this adapter makes, stored in each memory row's metadata.
MODEL_KIND = "OpenAI-compatible embeddings model"
DEFAULT_RETRY_AFTER_S = 20.0


class EmbeddingDimensionError(PermanentError):
    """Vectors of a length other than the configured ``embeddings_dimension``: a configuration
    mismatch that retrying cannot cure (``field`` = ``embeddings_dimension``)."""

    status = 422


class _Item(BaseModel):
    index: int
    embedding: list[float] | str


class _Answer(BaseModel):
    data: list[_Item]
    model: str | None = None


def decode_embedding(value: list[float] | str) -> list[float]:
    """A float list as is, or base64 of little-endian float32 values decoded.

    Raises:
        UpstreamError: the base64 text is not valid or not a whole number of float32 values.
    """
    if isinstance(value, list):
        return [float(x) for x in value]
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise UpstreamError(
            "the embeddings endpoint answered an embedding that is not valid base64",
            service=SERVICE,
        ) from exc
    if len(raw) % 4:
        raise UpstreamError(
            f"a base64 embedding of {len(raw)} bytes is not a whole number of float32 values",
            service=SERVICE,
        )
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


class HttpxEmbeddings:
    """An OpenAI-compatible embeddings client.

    Args:
        base_url: API root including its version, e.g. ``https://api.openai.com/v1``.
        model: the embedding model name.
        dimension: the vector length every answer must have.
        api_key: a bearer key; None sends no ``Authorization``.
        encoding_format: ``float`` or ``base64`` (asked for; both are read).
        send_dimensions: send ``dimensions`` (text-embedding-3 models shorten their vectors).
        timeout_s: per-request timeout in seconds.
        transport: an httpx transport (tests); None uses the network.
    """

    kind = MODEL_KIND

    def __init__(
        self,
        base_url: str,
        model: str,
        dimension: int,
        api_key: str | None = None,
        *,
        encoding_format: Literal["float", "base64"] = "base64",
        send_dimensions: bool = True,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "codex-judge"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.dimension = dimension
        self.label = f"openai-compatible:{model}"
        self.encoding_format = encoding_format
        self.send_dimensions = send_dimensions
        self._client = httpx.Client(headers=headers, timeout=timeout_s, transport=transport)

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> HttpxEmbeddings:
        """Build from the ``embeddings_*`` settings.

        Raises:
            ValueError: ``embeddings_base_url`` is not set (the hashing embedder is used).
        """
        if not settings.embeddings_base_url:
            raise ValueError("embeddings_base_url is not set; expected an OpenAI-compatible root")
        key = settings.embeddings_api_key
        return cls(
            settings.embeddings_base_url,
            settings.embeddings_model,
            settings.embeddings_dimension,
            key.get_secret_value() if key else None,
            encoding_format=settings.embeddings_encoding_format,
            send_dimensions=settings.embeddings_send_dimensions,
            timeout_s=settings.embeddings_timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` in one request; one vector per text, in order.

        Raises:
            RateLimitedError: 429.
            UpstreamError: 5xx, timeout, or an answer without one embedding per input.
            UpstreamRejectedError: another 4xx (names the upstream message).
            EmbeddingDimensionError: a vector's length is not ``dimension``.
        """
        if not texts:
            return []
        payload: dict[str, Any] = {
            "model": self.model,
            "input": list(texts),
            "encoding_format": self.encoding_format,
        }
        if self.send_dimensions:
            payload["dimensions"] = self.dimension
        resp = send(
            self._client, "POST", f"{self.base_url}/embeddings", service=SERVICE, json=payload
        )
        raise_for_status(resp, service=SERVICE, default_retry_after=DEFAULT_RETRY_AFTER_S)
        try:
            answer = _Answer.model_validate(body_json(resp))
        except ValidationError as exc:
            raise UpstreamError(
                "the embeddings endpoint answered 200 without a readable data list",
                service=SERVICE,
            ) from exc
        items = sorted(answer.data, key=lambda item: item.index)
        if [item.index for item in items] != list(range(len(texts))):
            raise UpstreamError(
                f"the embeddings endpoint answered {len(items)} embeddings (indexes "
                f"{[item.index for item in items][:10]}) for {len(texts)} inputs",
                service=SERVICE,
            )
        vectors = [decode_embedding(item.embedding) for item in items]
        for vector in vectors:
            if len(vector) != self.dimension:
                raise EmbeddingDimensionError(
                    f"{self.label} answered {len(vector)}-dimensional vectors; "
                    f"embeddings_dimension is {self.dimension}",
                    field="embeddings_dimension",
                )
        return vectors
