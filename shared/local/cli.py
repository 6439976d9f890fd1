"""The local mesh's commands, added to ``codex-judge`` through the ``codex_judge.commands``
entry-point group (:mod:`shared.cli.main`): ``up``, ``replay``, ``demo`` and ``ui``.

``up`` prints one JSON line with every URL when ready and runs until SIGINT/SIGTERM; ``demo`` is
what ``make run`` calls (up + seed the fakes + replay the recorded scenario + print the runs);
``ui`` (``make ui``) serves the api and web UI over the last mesh's database afterwards.
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


def cmd_ui(args: argparse.Namespace) -> int:
    """Serve the api and its web UI over the last mesh's database (the demo's, after ``make
    run``) until SIGINT/SIGTERM; prints its URLs and tokens as one JSON line."""
    import subprocess
    import sys

    from shared.cli.settings import cli_settings
    from shared.local.mesh.access import (
        OPERATOR_VARIABLE,
        READ_VARIABLE,
        local_tokens,
        read_tokens,
    )
    from shared.local.mesh.processes import free_port, wait_ready
    from shared.settings import inherited_environment

    settings = cli_settings(Settings())
    access = read_tokens(settings)
    if access.read_token is None:
        access = local_tokens(settings, {})
    port = args.port or free_port()
    env = {
        **inherited_environment(),
        "FUNCTION_SOURCE": "functions/api/main.py",
        "FUNCTION_TARGET": "handle",
        "FUNCTION_SIGNATURE_TYPE": "http",
        "CODEX_JUDGE_FUNCTION_NAME": "api",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "1",
        "THREADS": "4",
        "DATABASE_URL": str(settings.database_url),
    }
    if access.read_token:
        env[READ_VARIABLE] = f"viewer:{access.read_token}"
        env[OPERATOR_VARIABLE] = f"operator:{access.operator_token}"
    broker = (read_mesh(settings) or {}).get("broker")
    if broker and not settings.k_sink:
        env["K_SINK"] = str(broker)
    command = [str(Path(sys.executable).with_name("codex-judge")), "serve"]
    proc = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/healthz", proc=proc)
        line = {"api": url, "ui": f"{url}/ui/runs", "database_url": settings.database_url}
        if access.read_token:
            line |= {"ui_read_token": access.read_token, "ui_operator_token": access.operator_token}
        print(json.dumps(line), flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(0.5):
            if proc.poll() is not None:
                return int(proc.returncode or 1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


def add_parsers(sub: Any) -> None:
    """Add ``up``, ``replay``, ``demo`` and ``ui`` to the ``codex-judge`` subparsers."""
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
    ui = sub.add_parser("ui", help="serve the api and web UI over the last mesh's database")
    ui.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    ui.set_defaults(fn=cmd_ui)
