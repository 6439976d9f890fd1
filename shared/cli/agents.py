"""``codex-judge agents ingest`` (the ingester's container command) and ``codex-judge
agent-publish`` (what an Argo step runs): see :mod:`shared.agents`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from shared.settings import Settings


def cmd_ingest(_: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.agents.ingest import serve_ingester

    settings = Settings()
    db = bootstrap.build(settings).db

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_ingester(
            db,
            settings.nats_url,
            settings.agents_stream,
            settings.agents_consumer,
            batch=settings.agents_batch,
            stop=stop,
        )

    asyncio.run(main())
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from shared.agents.publisher import Workflow, codex_messages, one_message, publish_all

    workflow = Workflow(args.namespace, args.workflow, args.uid, args.agent)
    try:
        if args.codex_jsonl:
            if args.codex_jsonl == "-":
                lines = sys.stdin.read().splitlines()
            else:
                lines = Path(args.codex_jsonl).read_text(errors="replace").splitlines()
            messages = list(codex_messages(workflow, lines))
        else:
            if not args.kind or not args.message_id:
                print("agent-publish: --kind and --message-id (or --codex-jsonl)", file=sys.stderr)
                return 2
            messages = [one_message(workflow, args.kind, args.content, args.message_id)]
    except (OSError, ValueError) as exc:
        print(f"agent-publish: {exc}", file=sys.stderr)
        return 2
    url = args.nats_url or Settings().nats_url
    failed = asyncio.run(publish_all(url, messages, attempts=args.attempts))
    print(f"published {len(messages) - len(failed)} of {len(messages)} agent messages")
    if failed:
        print(f"agent-publish: {len(failed)} not published (NATS at {url})", file=sys.stderr)
        return 1 if args.strict else 0
    return 0


def add_agents_parsers(sub: Any) -> None:
    """Add ``agents ingest`` and ``agent-publish`` to the ``codex-judge`` subparsers."""
    agents = sub.add_parser("agents", help="agent messages: NATS JetStream → Postgres")
    agents_sub = agents.add_subparsers(dest="agents_command", required=True)
    ingest = agents_sub.add_parser("ingest", help="run the durable pull consumer until SIGTERM")
    ingest.set_defaults(fn=cmd_ingest)
    publish = sub.add_parser("agent-publish", help="publish agent messages (for Argo steps)")
    publish.add_argument("--namespace", required=True, help="{{workflow.namespace}}")
    publish.add_argument("--workflow", required=True, help="{{workflow.name}}")
    publish.add_argument("--uid", required=True, help="{{workflow.uid}}")
    publish.add_argument("--agent", required=True, help="the agent's id (one NATS token)")
    publish.add_argument("--codex-jsonl", help="a Codex exec --json stream file, or - for stdin")
    publish.add_argument("--kind", help="status, message, tool_call, tool_result, error, …")
    publish.add_argument("--content", help="the message text")
    publish.add_argument("--message-id", help="unique per agent and kind (dedupe key)")
    publish.add_argument("--nats-url", help="default CODEX_JUDGE_NATS_URL")
    publish.add_argument("--attempts", type=int, default=5, help="tries per message")
    publish.add_argument("--strict", action="store_true", help="exit 1 when some were not sent")
    publish.set_defaults(fn=cmd_publish)
