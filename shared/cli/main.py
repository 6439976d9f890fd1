"""The ``codex-judge`` command line: migrate, runs, explain, schemas, serve, policy, memories,
and the operator actions (approve, rerun, cancel, dead-letters).

``serve`` is the container's command (one function per process, see :mod:`shared.runtime.serve`).
Commands of installed plugins join through the ``codex_judge.commands`` entry-point group: each
entry point is a callable given the subparsers; the local mesh registers ``up``, ``replay`` and
``demo`` that way (:mod:`shared.local.cli`), so this module never imports the emulator.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points

from shared.cli.settings import cli_settings
from shared.settings import Settings

COMMANDS_GROUP = "codex_judge.commands"


def cmd_migrate(_: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.db.migrate import apply_migrations

    applied = apply_migrations(bootstrap.build(Settings()).db)
    print(json.dumps({"applied": applied}))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.cli.report import list_runs, render_runs

    settings = cli_settings()
    runs = list_runs(bootstrap.build(settings).db, limit=args.limit, before=args.before)
    print(json.dumps(runs, default=str, indent=2) if args.json else render_runs(runs))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.cli.explain import explain_run

    settings = cli_settings()
    with bootstrap.build(settings).db.transaction() as tx:
        text = explain_run(tx, args.run)
    if text is None:
        print(f"no run with id {args.run}", file=sys.stderr)
        return 1
    print(text)
    return 0


def cmd_serve(_: argparse.Namespace) -> int:
    from shared.runtime.serve import serve

    return serve()


def cmd_schemas(args: argparse.Namespace) -> int:
    from shared.models import schemas

    if args.write:
        for path in schemas.write():
            print(path)
        return 0
    stale = schemas.drift()
    print("\n".join(stale) if stale else "schemas are up to date")
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``codex-judge`` console script."""
    from shared.telemetry import logs

    parser = argparse.ArgumentParser(prog="codex-judge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending SQL migrations").set_defaults(fn=cmd_migrate)
    runs = sub.add_parser("runs", help="every run with its status, decision and reasons")
    runs.add_argument("--json", action="store_true")
    runs.add_argument("--limit", type=int, default=50, help="runs per page (the newest first)")
    runs.add_argument(
        "--before", type=int, default=None, help="the page below this run id (the next page)"
    )
    runs.set_defaults(fn=cmd_runs)
    explain = sub.add_parser("explain", help="a run's sealed decision record, human-readable")
    explain.add_argument("run", type=int, help="the run id (codex-judge runs lists them)")
    explain.set_defaults(fn=cmd_explain)
    serve = sub.add_parser("serve", help="serve FUNCTION_SOURCE (the container's command)")
    serve.set_defaults(fn=cmd_serve)
    schemas = sub.add_parser("schemas", help="check (or --write) schemas/ against the models")
    schemas.add_argument("--write", action="store_true")
    schemas.set_defaults(fn=cmd_schemas)
    from shared.cli.policy import add_parser as add_policy_parser

    add_policy_parser(sub)
    from shared.cli.memories import add_memories_parser

    add_memories_parser(sub)
    from shared.cli.operator import add_operator_parsers

    add_operator_parsers(sub)

    from shared.cli.agents import add_agents_parsers

    add_agents_parsers(sub)
    from shared.cli.notify_run import add_notify_run_parser

    add_notify_run_parser(sub)
    for entry_point in entry_points(group=COMMANDS_GROUP):  # the local mesh's up, replay, demo
        entry_point.load()(sub)
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet_unless_verbose", False) and not args.verbose
    logs.configure("WARNING" if quiet else Settings().log_level)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
