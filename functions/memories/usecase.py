"""The memories use case: every ``io.codexjudge.judge.decided.v1`` stores its evaluation's ten
snapshots, embedded, in ``memories.entries`` (DESIGN §4 memories, issue 4 "Memories").

Outcomes are values answered 202: stored N, already stored (a duplicate decision stores
nothing new and calls no embedder), or an unknown run/evaluation. A failing embeddings endpoint
raises :class:`~shared.errors.UpstreamError` (503; Knative retries) or ``RateLimitedError``
(429), and the transaction rolls back, so a set is stored whole or not at all.
"""

from __future__ import annotations

from shared.memories.store import remember
from shared.models.events import JudgeDecided
from shared.runtime.envelope import Envelope
from shared.runtime.outcomes import Context, NoReply, Outcome


def remember_decision(event: Envelope, ctx: Context) -> Outcome:
    """Store the memories of the evaluation named in a ``judge.decided`` event.

    Raises:
        InvalidDataError: ``data`` is not a valid :class:`JudgeDecided` (names the field).
        UpstreamError: the embeddings endpoint failed or timed out (503, nothing stored).
        RateLimitedError: the embeddings endpoint answered 429.
        MemoryDimensionError: ``embeddings_dimension`` disagrees with the stored vectors.
    """
    decided = event.model(JudgeDecided)
    result = remember(
        ctx.tx,
        ctx.deps.embedder(),
        run_id=decided.run_id,
        evaluation_id=decided.evaluation_id,
        database=ctx.deps.db.url,
    )
    return NoReply(result.note, run_id=decided.run_id)
