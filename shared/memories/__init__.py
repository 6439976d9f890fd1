"""Memories (issue 4): ten snapshots per evaluation, embedded into pgvector, recalled by namespace
and cosine distance. :mod:`.snapshots` builds them, :mod:`.embedder` embeds them, :mod:`.store`
stores and recalls them; ``codex-judge memories recall`` is :mod:`shared.cli.memories`."""

from shared.memories.embedder import HashingEmbedder
from shared.memories.snapshots import KINDS, Snapshot, build_snapshots
from shared.memories.store import (
    MemoryDimensionError,
    Recalled,
    Remembered,
    recall,
    remember,
)

__all__ = [
    "KINDS",
    "HashingEmbedder",
    "MemoryDimensionError",
    "Recalled",
    "Remembered",
    "Snapshot",
    "build_snapshots",
    "recall",
    "remember",
]
