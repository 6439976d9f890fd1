"""The local mesh's commands, added to ``codex-judge`` through the ``codex_judge.commands``
entry-point group (:mod:`shared.cli.main`): ``up``, ``replay`` and ``demo``.

``up`` prints one JSON line with every URL when ready and runs until SIGINT/SIGTERM; ``demo`` is
what ``make run`` calls (up + seed the fakes + replay the recorded scenario + print the runs).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from shared.cli.settings import mesh_file, read_mesh
from shared.settings import Settings


def cmd_up(args: argparse.Namespace) -> int:
    from shared.local.mesh.supervisor import Mesh

    mesh = Mesh(Settings()).start(ping_interval_s=args.ping_interval)
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
    from shared.local.mesh.replay import replay_file

    urls = _mesh_urls(Settings())
    failed = 0
    for name in args.files:
        for line in replay_file(Path(name), urls):
            print(line)
            failed += line.startswith("FAILED")
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from shared.local.mesh.demo import run_demo

    return run_demo(Settings(), verbose=args.verbose)


def add_parsers(sub: Any) -> None:
    """Add ``up``, ``replay`` and ``demo`` to the ``codex-judge`` subparsers."""
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
    demo = sub.add_parser("demo", help="up + replay the recorded scenario + print the runs")
    demo.add_argument("--verbose", action="store_true")
    demo.set_defaults(fn=cmd_demo, quiet_unless_verbose=True)  # prints its own report
