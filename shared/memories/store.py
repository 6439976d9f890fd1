"""The memories store: ``memories.entries`` (migration 0005). Remember an evaluation's ten
snapshots once, recall by namespace and query text by cosine distance (pgvector ``<=>``).

Rules kept here:

* **Idempotent, all or nothing.** The unique (evaluation_id, kind) constraint dedupes; a
  duplicate ``judge.decided`` finds every kind stored and calls no embedder. Otherwise the
  missing snapshots are embedded in one call *before* anything is written, so a failing
  embeddings endpoint raises (503) and leaves no partial set.
* **One vector space per comparison.** Rows record their ``embedder`` and ``dimension``;
  recall compares only rows of the caller's embedder and dimension.
* **Dimension checked at start.** The first use per process and embedder checks
  ``embeddings_dimension`` against the column (when an operator fixed it as ``vector(N)``) and
  against rows already stored by the same embedder; a mismatch is
  :class:`MemoryDimensionError` naming both numbers.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from shared.db import Tx
from shared.errors import PermanentError
from shared.memories.snapshots import build_snapshots, metadata, namespace, tags
from shared.ports import Embedder
from shared.runs import get_run

SQL_EVALUATION = "SELECT * FROM codex_judge.evaluations WHERE id = :id AND run_id = :run_id"
SQL_AGENT_MESSAGES = """
SELECT seq, kind, content FROM (
    SELECT seq, kind, content FROM workflow_comms.agent_messages
    WHERE run_id = :run_id ORDER BY seq DESC LIMIT :limit
) newest ORDER BY seq
"""
SQL_PR_STATE = """
SELECT title, state, merged, mergeable_state, html_url
FROM github.pr_state WHERE repository = :repository AND pr_number = :pr_number
"""
SQL_STORED_KINDS = "SELECT kind FROM memories.entries WHERE evaluation_id = :evaluation_id"
SQL_INSERT = """
INSERT INTO memories.entries (namespace, kind, summary, content, tags, metadata, embedding,
    dimension, embedder, content_sha256, run_id, evaluation_id)
SELECT m.namespace, m.kind, m.summary, m.content,
       ARRAY(SELECT jsonb_array_elements_text(m.tags)), m.metadata, CAST(m.embedding AS vector),
       m.dimension, m.embedder, m.content_sha256, m.run_id, m.evaluation_id
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS m(
    namespace text, kind text, summary text, content text, tags jsonb, metadata jsonb,
    embedding text, dimension integer, embedder text, content_sha256 text, run_id bigint,
    evaluation_id bigint)
ON CONFLICT (evaluation_id, kind) DO NOTHING
RETURNING id
"""
SQL_COLUMN_DIMENSION = """
SELECT atttypmod AS typmod FROM pg_attribute
WHERE attrelid = 'memories.entries'::regclass AND attname = 'embedding'
"""
SQL_STORED_DIMENSIONS = """
SELECT DISTINCT dimension FROM memories.entries WHERE embedder = :embedder AND dimension <> :dim
LIMIT 3
"""
SQL_RECALL = """
SELECT id, namespace, kind, summary, content, tags, metadata, run_id, evaluation_id, embedder,
       created_at, embedding <=> CAST(:query AS vector) AS distance
FROM memories.entries
WHERE namespace = :namespace AND embedder = :embedder AND dimension = :dimension
  AND (jsonb_array_length(CAST(:kinds AS jsonb)) = 0
       OR kind IN (SELECT jsonb_array_elements_text(CAST(:kinds AS jsonb))))
ORDER BY distance, id
LIMIT :limit
"""

#: (database URL, embedder label, dimension) already checked in this process.
_checked: set[tuple[str, str, int]] = set()
_checked_lock = threading.Lock()


class MemoryDimensionError(PermanentError):
    """``embeddings_dimension`` disagrees with the ``memories.entries`` column or with rows the
    same embedder stored before (``field`` = ``embeddings_dimension``)."""

    status = 422


@dataclass(frozen=True)
class Remembered:
    """What :func:`remember` did: ``stored`` new rows, or why nothing (``note``)."""

    stored: int
    note: str
    namespace: str | None = None


@dataclass(frozen=True)
class Recalled:
    """One recalled memory; ``distance`` is the cosine distance to the query (0 = same
    direction, 2 = opposite)."""

    id: int
    namespace: str
    kind: str
    summary: str
    content: str
    tags: list[str]
    metadata: dict[str, Any]
    run_id: int
    evaluation_id: int
    embedder: str
    distance: float


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form ``[x,y,…]`` (``repr`` keeps every float digit)."""
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def check_dimension(tx: Tx, embedder: Embedder, *, database: str) -> None:
    """Check ``embedder.dimension`` against the column and stored rows (once per process and
    ``database``, the URL of the database ``tx`` belongs to).

    Raises:
        MemoryDimensionError: the column is ``vector(N)`` with another N, or this embedder
            stored vectors of another dimension before.
    """
    key = (database, embedder.label, embedder.dimension)
    with _checked_lock:
        if key in _checked:
            return
    row = tx.one(SQL_COLUMN_DIMENSION)
    typmod = int(row["typmod"]) if row else -1
    if typmod > 0 and typmod != embedder.dimension:
        raise MemoryDimensionError(
            f"memories.entries.embedding is vector({typmod}); embeddings_dimension is "
            f"{embedder.dimension}: set embeddings_dimension={typmod} or migrate the column",
            field="embeddings_dimension",
        )
    rows = tx.all(SQL_STORED_DIMENSIONS, embedder=embedder.label, dim=embedder.dimension)
    other = [r["dimension"] for r in rows]
    if other:
        raise MemoryDimensionError(
            f"memories.entries holds {embedder.label} vectors of {other} dimensions; "
            f"embeddings_dimension is {embedder.dimension}: vectors of different lengths "
            "cannot be compared, so keep the dimension or use another embeddings model",
            field="embeddings_dimension",
        )
    with _checked_lock:
        _checked.add(key)


def remember(
    tx: Tx, embedder: Embedder, *, run_id: int, evaluation_id: int, database: str
) -> Remembered:
    """Store the ten snapshots of evaluation ``evaluation_id`` of run ``run_id`` (once).

    Args:
        database: the URL of the database ``tx`` belongs to: the dimension check runs once
            per process and database (:func:`check_dimension`).

    Returns:
        :class:`Remembered`; an unknown run or evaluation is a value (``stored`` 0, a note).

    Raises:
        TransientError: the embeddings endpoint failed (nothing was written).
        PermanentError: the endpoint refused, or the dimension does not match.
    """
    run = get_run(tx, run_id)
    if run is None:
        return Remembered(0, f"run {run_id} not found; no memories")
    evaluation = tx.one(SQL_EVALUATION, id=evaluation_id, run_id=run_id)
    if evaluation is None:
        return Remembered(0, f"evaluation {evaluation_id} of run {run_id} not found; no memories")
    space = namespace(run)
    stored = {r["kind"] for r in tx.all(SQL_STORED_KINDS, evaluation_id=evaluation_id)}
    messages = tx.all(SQL_AGENT_MESSAGES, run_id=run_id, limit=50)
    pr = None
    if run.repository and run.pr_number:
        pr = tx.one(SQL_PR_STATE, repository=run.repository, pr_number=run.pr_number)
    missing = [s for s in build_snapshots(run, evaluation, messages, pr) if s.kind not in stored]
    if not missing:
        return Remembered(0, "every snapshot already stored", space)
    check_dimension(tx, embedder, database=database)
    vectors = embedder.embed([s.embedding_text() for s in missing])
    row_tags = tags(run, evaluation)
    row_meta = metadata(run, evaluation, embedder.kind)
    rows = [
        {
            "namespace": space,
            "kind": s.kind,
            "summary": s.summary,
            "content": s.content,
            "tags": row_tags,
            "metadata": {**row_meta, "kind": s.kind, "embedder": embedder.label},
            "embedding": vector_literal(vector),
            "dimension": len(vector),
            "embedder": embedder.label,
            "content_sha256": hashlib.sha256(s.content.encode()).hexdigest(),
            "run_id": run_id,
            "evaluation_id": evaluation_id,
        }
        for s, vector in zip(missing, vectors, strict=True)
    ]
    inserted = tx.all(SQL_INSERT, rows=json.dumps(rows))
    return Remembered(len(inserted), f"stored {len(inserted)} memories in {space}", space)


def recall(
    tx: Tx,
    embedder: Embedder,
    *,
    namespace: str,
    query: str,
    limit: int = 10,
    kinds: list[str] | None = None,
) -> list[Recalled]:
    """The memories of ``namespace`` nearest to ``query``, nearest first (ties by id).

    Only rows of ``embedder`` (label and dimension) are compared. ``kinds`` restricts the kinds.

    Raises:
        ValueError: ``limit`` is not between 1 and 1000.
        TransientError / PermanentError: embedding the query failed (see :class:`Embedder`).
    """
    if not 1 <= limit <= 1000:
        raise ValueError(f"limit must be between 1 and 1000, got {limit}")
    [vector] = embedder.embed([query])
    rows = tx.all(
        SQL_RECALL,
        query=vector_literal(vector),
        namespace=namespace,
        embedder=embedder.label,
        dimension=embedder.dimension,
        kinds=json.dumps(kinds or []),
        limit=limit,
    )
    return [
        Recalled(
            id=r["id"],
            namespace=r["namespace"],
            kind=r["kind"],
            summary=r["summary"],
            content=r["content"],
            tags=list(r["tags"] or []),
            metadata=r["metadata"] or {},
            run_id=r["run_id"],
            evaluation_id=r["evaluation_id"],
            embedder=r["embedder"],
            distance=float(r["distance"]),
        )
        for r in rows
    ]
