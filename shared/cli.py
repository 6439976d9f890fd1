"""The ``codex-judge`` command line: migrate, up, replay, runs, explain, demo, schemas, serve.

``up`` prints one JSON line with every URL when ready and runs until SIGINT/SIGTERM; ``demo`` is
what ``make run`` calls (up + seed the fakes + replay the recorded scenario + print the runs);
``serve`` is the container's command (one function per process, see :mod:`shared.serve`).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from shared.mesh.state import cli_settings, mesh_file, read_mesh
from shared.settings import Settings


def _settings() -> Settings:
    return Settings()


def cmd_migrate(_: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.db.migrate import apply_migrations

    applied = apply_migrations(bootstrap.build(_settings()).db)
    print(json.dumps({"applied": applied}))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from shared.mesh.supervisor import Mesh

    mesh = Mesh(_settings()).start(ping_interval_s=args.ping_interval)
    print(json.dumps(mesh.urls()), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    mesh.stop()
    return 0


def _mesh_urls(settings: Settings) -> dict[str, Any]:
    urls = read_mesh(settings)
    if urls is None:
        raise SystemExit(
            f"no running mesh found ({mesh_file(settings)} is missing): start `codex-judge up`"
        )
    return urls


def cmd_replay(args: argparse.Namespace) -> int:
    from shared.mesh.replay import replay_file

    urls = _mesh_urls(_settings())
    failed = 0
    for name in args.files:
        for line in replay_file(Path(name), urls):
            print(line)
            failed += line.startswith("FAILED")
    return 1 if failed else 0


def cmd_runs(args: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.report import list_runs, render_runs

    settings = cli_settings()
    runs = list_runs(bootstrap.build(settings).db)
    print(json.dumps(runs, default=str, indent=2) if args.json else render_runs(runs))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from shared import bootstrap
    from shared.explain import explain_run

    settings = cli_settings()
    with bootstrap.build(settings).db.transaction() as tx:
        text = explain_run(tx, args.run)
    if text is None:
        print(f"no run with id {args.run}", file=sys.stderr)
        return 1
    print(text)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from shared.mesh.demo import run_demo

    return run_demo(_settings(), verbose=args.verbose)


def cmd_serve(_: argparse.Namespace) -> int:
    from shared.serve import serve

    return serve()


def cmd_schemas(args: argparse.Namespace) -> int:
    from shared import schemas

    if args.write:
        for path in schemas.write():
            print(path)
        return 0
    stale = schemas.drift()
    print("\n".join(stale) if stale else "schemas are up to date")
    return 1 if stale else 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``codex-judge`` console script."""
    from shared import logs

    parser = argparse.ArgumentParser(prog="codex-judge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending SQL migrations").set_defaults(fn=cmd_migrate)
    up = sub.add_parser("up", help="start the local mesh until SIGINT/SIGTERM")
    up.add_argument(
        "--ping-interval",
        type=float,
        default=5.0,
        help="seconds between PingSource ticks (0 disables)",
    )
    up.set_defaults(fn=cmd_up)
    replay = sub.add_parser("replay", help="send recorded events to the running mesh")
    replay.add_argument("files", nargs="+")
    replay.set_defaults(fn=cmd_replay)
    runs = sub.add_parser("runs", help="every run with its status, decision and reasons")
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(fn=cmd_runs)
    explain = sub.add_parser("explain", help="a run's sealed decision record, human-readable")
    explain.add_argument("run", type=int, help="the run id (codex-judge runs lists them)")
    explain.set_defaults(fn=cmd_explain)
    demo = sub.add_parser("demo", help="up + replay the recorded scenario + print the runs")
    demo.add_argument("--verbose", action="store_true")
    demo.set_defaults(fn=cmd_demo)
    serve = sub.add_parser("serve", help="serve FUNCTION_SOURCE (the container's command)")
    serve.set_defaults(fn=cmd_serve)
    schemas = sub.add_parser("schemas", help="check (or --write) schemas/ against the models")
    schemas.add_argument("--write", action="store_true")
    schemas.set_defaults(fn=cmd_schemas)
    from shared.policy_cli import add_parser as add_policy_parser

    add_policy_parser(sub)
    from shared.memories.cli import add_memories_parser

    add_memories_parser(sub)
    args = parser.parse_args(argv)
    quiet = args.command == "demo" and not args.verbose  # the demo prints its own report
    logs.configure("WARNING" if quiet else _settings().log_level)
    return int(args.fn(args))


if __name__ == "__main__":
    sys.exit(main())
