"""The offline :class:`HashingEmbedder`, one of the two :class:`shared.ports.Embedder`
implementations (DESIGN §7: "a local embedding model or a deterministic hashing embedder",
issue 4 "Memories"); the container (:mod:`shared.bootstrap`) chooses between it and the
OpenAI-compatible adapter.

The offline default needs no network and no model. It is **not semantic**: it hashes word
unigrams and bigrams into ``dimension`` signed buckets (the "hashing trick", Weinberger et al.
2009) and normalises to unit length, so cosine distance measures shared vocabulary. Every row it
produces carries ``embedder = "offline-hashing:v1"`` and ``metadata.embedder_kind`` saying so,
and recall never compares its vectors with a model's.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Sequence

HASHING_LABEL = "offline-hashing:v1"
HASHING_KIND = "offline deterministic hashing embedder (lexical feature hashing; no model)"

_TOKEN = re.compile(r"[a-z0-9_]+")
# An empty text still needs a unit vector: cosine distance to the zero vector is undefined.
_EMPTY_FEATURE = "\0empty"


def _features(text: str) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    bigrams = [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    return tokens + bigrams or [_EMPTY_FEATURE]


class HashingEmbedder:
    """The offline embedder: signed feature hashing of unigrams and bigrams, unit length.

    Deterministic across processes and machines (BLAKE2b, not Python's salted ``hash``).

    Args:
        dimension: vector length (``embeddings_dimension``), at least 1.
    """

    label = HASHING_LABEL
    kind = HASHING_KIND

    def __init__(self, dimension: int) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be at least 1, got {dimension}")
        self.dimension = dimension

    def embed_one(self, text: str) -> list[float]:
        """The unit vector of ``text`` (sub-linear term weights: 1 + log(count))."""
        counts: dict[str, int] = {}
        for feature in _features(text):
            counts[feature] = counts.get(feature, 0) + 1
        vector = [0.0] * self.dimension
        for feature, count in counts.items():
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "big")
            sign = 1.0 if value & 1 else -1.0
            vector[(value >> 1) % self.dimension] += sign * (1.0 + math.log(count))
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:  # features cancelled out; "" has one feature, so this cannot recurse
            return self.embed_one("")
        return [x / norm for x in vector]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text; never raises for any string input."""
        return [self.embed_one(text) for text in texts]
