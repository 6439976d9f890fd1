"""``codex-judge policy show|set|effective|history REPO``: operate policy packs.

* ``show REPO [--version N] [--raw]`` — the current (or given) stored pack as JSON, or its
  original text with ``--raw``;
* ``set REPO [FILE|-]`` — validate a YAML/JSON pack from FILE or stdin and store it as a new
  version (``REPO`` ``*`` is the central pack);
* ``effective REPO [--repo-local FILE]`` — the policy in force, its SHA-256 hash and the layers
  it was built from (:mod:`shared.policy.resolution` gives the precedence);
* ``history REPO`` — every stored version.

Exit codes: 0 done, 1 nothing stored, 2 invalid input (the error names the offending key).
The database is ``DATABASE_URL``, else the running local mesh's (``.data/mesh.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.cli.settings import cli_settings
from shared.db import Database
from shared.errors import InvalidDataError
from shared.settings import Settings


def _settings() -> Settings:
    return cli_settings()


@contextlib.contextmanager
def _closing(db: Database) -> Iterator[None]:
    try:
        yield
    finally:
        db.close()


def _print(value: Any) -> None:
    print(json.dumps(value, default=str, indent=2, sort_keys=True))


def _read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise InvalidDataError(f"file: {source} does not exist", field="file")
    return path.read_text()


def cmd_policy(args: argparse.Namespace) -> int:
    """Run one ``policy`` action; InvalidDataError → its message on stderr and exit code 2."""
    from shared import bootstrap
    from shared.policy.packs import check_repository, get_pack, pack_history, set_pack
    from shared.policy.resolution import resolve

    settings = _settings()
    try:
        check_repository(args.repository)
        local = _read_text(args.repo_local) if getattr(args, "repo_local", None) else None
        text = _read_text(args.file) if args.action == "set" else None
        db = bootstrap.build(settings).db
        with _closing(db), db.transaction() as tx:
            if args.action == "set":
                assert text is not None
                stored = set_pack(tx, settings, args.repository, text, created_by=args.author)
                _print(
                    {
                        "repository": stored.repository,
                        "version": stored.version,
                        "digest": stored.digest,
                    }
                )
                return 0
            if args.action == "history":
                _print(
                    {"repository": args.repository, "versions": pack_history(tx, args.repository)}
                )
                return 0
            if args.action == "effective":
                resolved = resolve(tx, settings, args.repository, repo_local=local)
                _print(
                    {
                        "repository": args.repository,
                        "hash": resolved.policy.digest(),
                        "layers": resolved.layers,
                        "policy": resolved.policy.model_dump(mode="json"),
                    }
                )
                return 0
            pack = get_pack(tx, args.repository, args.version)
    except InvalidDataError as exc:
        print(json.dumps(exc.body()), file=sys.stderr)
        return 2
    if pack is None:
        print(json.dumps({"error": "not_found", "repository": args.repository}), file=sys.stderr)
        return 1
    if args.raw:
        sys.stdout.write(
            pack.source_text if pack.source_text.endswith("\n") else pack.source_text + "\n"
        )
        return 0
    _print(
        {
            "repository": pack.repository,
            "version": pack.version,
            "digest": pack.digest,
            "source_format": pack.source_format,
            "created_by": pack.created_by,
            "created_at": pack.created_at,
            "document": pack.document,
        }
    )
    return 0


def add_parser(sub: Any) -> None:
    """Add the ``policy`` subcommand to the ``codex-judge`` parser's subparsers ``sub``."""
    policy = sub.add_parser("policy", help="show, set and resolve policy packs")
    actions = policy.add_subparsers(dest="action", required=True)
    show = actions.add_parser("show", help="the stored pack of REPO ('*' = central)")
    show.add_argument("repository")
    show.add_argument("--version", type=int, default=None)
    show.add_argument("--raw", action="store_true", help="print the text as it was set")
    put = actions.add_parser("set", help="store a YAML/JSON pack as REPO's next version")
    put.add_argument("repository")
    put.add_argument("file", nargs="?", default="-", help="a file, or - for stdin (default)")
    put.add_argument("--author", default=None, help="recorded as created_by")
    effective = actions.add_parser("effective", help="the policy in force for REPO and its hash")
    effective.add_argument("repository")
    effective.add_argument("--repo-local", default=None, help="the repository's own policy file")
    history = actions.add_parser("history", help="every stored version of REPO's pack")
    history.add_argument("repository")
    policy.set_defaults(fn=cmd_policy)
