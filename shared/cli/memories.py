"""``codex-judge memories recall``: the memories of a namespace nearest to a query text.

Uses the process settings' embedder (``embeddings_*``; the offline hashing embedder when no
endpoint is set), so it only finds rows that embedder stored. The database is ``DATABASE_URL``,
else the running local mesh's (``<data_dir>/mesh.json``), else the embedded one.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from shared.cli.settings import cli_settings


def render(rows: list[dict[str, Any]]) -> str:
    """Human-readable recall results: distance, kind, run and the first lines of content."""
    if not rows:
        return "no memories found"
    out = []
    for row in rows:
        head = (
            f"{row['distance']:.4f}  {row['kind']:<15} run {row['run_id']} "
            f"evaluation {row['evaluation_id']}  [{row['embedder']}]"
        )
        body = "\n".join("    " + line for line in row["content"].splitlines()[:6])
        out.append(f"{head}\n{body}")
    return "\n\n".join(out)


def cmd_recall(args: argparse.Namespace) -> int:
    """Print the nearest memories (``--json`` for machine-readable output)."""
    from shared import bootstrap
    from shared.memories.store import recall

    deps = bootstrap.build(cli_settings())
    try:
        with deps.db.transaction() as tx:
            found = recall(
                tx,
                deps.embedder(),
                namespace=args.namespace,
                query=args.query,
                limit=args.limit,
                kinds=args.kind or None,
            )
    finally:
        deps.db.close()
    rows = [asdict(r) for r in found]
    print(json.dumps(rows, indent=2, default=str) if args.json else render(rows))
    return 0


def add_memories_parser(sub: Any) -> None:
    """Register ``memories recall`` on the ``codex-judge`` subparsers ``sub``."""
    memories = sub.add_parser("memories", help="memory snapshots of evaluations")
    inner = memories.add_subparsers(dest="memories_command", required=True)
    rec = inner.add_parser("recall", help="memories of a namespace nearest to a query")
    rec.add_argument("--namespace", required=True, help="codex:<owner/name>:<issue>")
    rec.add_argument("--query", required=True, help="text to compare with (cosine distance)")
    rec.add_argument("--limit", type=int, default=10, help="at most this many (1..1000)")
    rec.add_argument("--kind", action="append", help="only this kind (repeatable)")
    rec.add_argument("--json", action="store_true")
    rec.set_defaults(fn=cmd_recall)
