"""``codex-judge approve|rerun|cancel RUN`` and ``codex-judge dead-letters list|replay``: the
operator actions from the command line, through the api's own code path
(:func:`shared.operator.actions.act`: the same compare-and-set, audit and effects outbox).

The actor recorded is ``cli:<login name>`` unless ``--actor`` says otherwise; every invocation
has its own idempotency key unless ``--key`` repeats one (then a repeated command acts once).
Events go to ``K_SINK``, else ``--broker``, else the last local mesh's Broker
(``<data_dir>/mesh.json``). Prints the result as JSON; exits 0 when the action was done (or had
been: a duplicate), 1 when it was refused or the target is unknown.
"""

from __future__ import annotations

import argparse
import getpass
import json
import uuid
from typing import Any

from shared.cli.settings import cli_settings, read_mesh
from shared.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    settings = cli_settings()
    broker = args.broker or settings.k_sink or (read_mesh(settings) or {}).get("broker")
    return settings.model_copy(update={"k_sink": broker})


def cmd_action(args: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.operator.actions import ActionRequest, act

    settings = _settings(args)
    body: dict[str, Any] = {}
    if args.comment:
        body["comment"] = args.comment
    if getattr(args, "prompt", None):
        body["prompt"] = args.prompt
    request = ActionRequest(
        action=args.action,
        target=args.target,
        actor=args.actor or f"cli:{getpass.getuser()}",
        key=args.key or f"cli:{uuid.uuid4()}",
        body=body,
    )
    result = act(bootstrap.build(settings).db, settings, request)
    print(result.model_dump_json(indent=2))
    return 0 if result.status_code == 200 else 1


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.operator.dead_letters import DeadLetterQuery, list_dead_letters

    query = DeadLetterQuery(subscriber=args.subscriber, limit=args.limit, cursor=args.cursor)
    with bootstrap.build(cli_settings()).db.transaction() as tx:
        page = list_dead_letters(tx, query)
    if args.json:
        print(page.model_dump_json(indent=2))
        return 0
    for d in page.items:
        replayed = f" replayed {d.replayed_at:%Y-%m-%d %H:%M}" if d.replayed_at else ""
        print(
            f"{d.id:>6}  {d.received_at:%Y-%m-%d %H:%M:%S}  {d.subscriber:<15} "
            f"{d.error_code or '-':>3}  {d.event_type or '-'}  {d.event_id}{replayed}"
        )
    if page.next_cursor:
        print(json.dumps({"next_cursor": page.next_cursor}))
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--comment", help="why; recorded with the actor")
    parser.add_argument("--key", help="idempotency key (repeat it to make a retry act once)")
    parser.add_argument("--actor", help="who acts (default cli:<login name>)")
    parser.add_argument("--broker", help="the Broker's URL (default K_SINK, else the mesh's)")


def add_operator_parsers(sub: Any) -> None:
    """Add ``approve``, ``rerun``, ``cancel`` and ``dead-letters`` to the subparsers."""
    for action, text in (
        ("approve", "approve a needs_human run: merge takes it on at the judged SHA"),
        (
            "rerun",
            "request a rerun of a needs_human run, or of a needs_iteration run with no rerun"
            " planned (attempt cap and backoff apply)",
        ),
        ("cancel", "cancel a run nothing external is in flight for"),
    ):
        parser = sub.add_parser(action, help=text)
        parser.add_argument("target", type=int, metavar="RUN", help="the run id")
        _common(parser)
        if action == "rerun":
            parser.add_argument("--prompt", help="the next prompt (default: the sealed one)")
        parser.set_defaults(fn=cmd_action, action=action)
    dead = sub.add_parser("dead-letters", help="list or replay dead letters")
    verbs = dead.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="dead letters, newest first")
    listing.add_argument("--subscriber", help="only those of this Service")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--cursor", help="next_cursor of the previous page")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(fn=cmd_dead_letters)
    replay = verbs.add_parser("replay", help="post a dead letter to the Broker again")
    replay.add_argument("target", type=int, metavar="ID", help="the dead letter id")
    _common(replay)
    replay.set_defaults(fn=cmd_action, action="replay")
