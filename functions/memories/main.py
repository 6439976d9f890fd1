"""memories: ten memory snapshots per evaluation, embedded into pgvector (DESIGN §4).

Triggered by ``io.codexjudge.judge.decided.v1`` (every decision). Answers 202 (no reply event);
a failing embeddings endpoint answers 503 (429 when rate limited) so Knative redelivers. The use
case is :mod:`functions.memories.usecase`.
"""

from __future__ import annotations

from functions.memories.usecase import remember_decision
from shared.runtime import cloudevent_function

handle = cloudevent_function("memories", remember_decision)
