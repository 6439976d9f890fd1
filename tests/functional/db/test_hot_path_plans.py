"""Every hot-path lookup has an index (issue 12): against a database seeded with 10⁵ runs and
the rows that hang off them, the generic plan (``EXPLAIN (GENERIC_PLAN)``, PostgreSQL 16: the
plan a cached prepared statement ends up with) of each hot statement must not scan a large
table sequentially.

The hot statements are the ones actually run while run-complete handles a completion and the
scheduler ticks (with its retention batches), counted through :class:`shared.db.Database`,
plus every SQL constant of the modules on the gates' and the judge's per-event path, parsed
from the source with :mod:`ast` and Postgres's own parser.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import pg8000.native
import pytest
from pglast.parser import ParseError, parse_sql_json

from bench.seed import seed_runs
from shared.db import Database
from tests.conftest import ROOT
from tests.functional.run_complete.test_run_complete import PARAMS, _post
from tests.functional.scheduler.test_scheduler import ingress, scheduler, tick

__all__ = ["ingress", "scheduler"]  # fixtures used here

RUNS = 100_000
#: A table with at least this many rows is large: a sequential scan of it fails the test.
LARGE = 10_000
#: Modules whose SQL constants run on every event of a gate, the judge or merge.
HOT_MODULES = (
    "shared/runs/store.py",
    "shared/runs/locks.py",
    "shared/runs/moves.py",
    "shared/runs/completion.py",
    "shared/runs/new_run.py",
    "shared/runtime/inbox.py",
    "shared/effects/outbox.py",
    "shared/waits/timers.py",
    "shared/github/checks.py",
    "shared/adapters/github_etags.py",
    "functions/ci_status/retries.py",
    "shared/cli/report.py",
)
#: Statements that read a whole table on purpose, with the reason (none today).
WHOLE_TABLE: dict[str, str] = {}


def _constants(path: Path) -> dict[str, str]:
    """Module-level ``SQL_* = "…"`` constants of one module; one built as an f-string from
    the module's fragments (``shared/runs/new_run.py``) is read from the imported module."""
    found: dict[str, str] = {}
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for node in ast.parse(path.read_text()).body:
        if not (
            isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant | ast.JoinedStr)
        ):
            continue
        for target in node.targets:
            if not (isinstance(target, ast.Name) and target.id.startswith("SQL_")):
                continue
            text = (
                node.value.value
                if isinstance(node.value, ast.Constant)
                else getattr(importlib.import_module(module), target.id)
            )
            if isinstance(text, str):
                found[f"{path.relative_to(ROOT)}:{target.id}"] = text
    return found


def _one_dml_statement(sql: str) -> bool:
    try:
        stmts = json.loads(parse_sql_json(sql))["stmts"]
    except ParseError:
        return False
    kinds = {"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt"}
    return len(stmts) == 1 and next(iter(stmts[0]["stmt"])) in kinds


def _seq_scans(plan: dict[str, Any]) -> list[str]:
    found = [plan["Relation Name"]] if plan.get("Node Type") == "Seq Scan" else []
    for child in plan.get("Plans", []):
        found += _seq_scans(child)
    return found


def _large_tables(con: pg8000.native.Connection) -> set[str]:
    rows = con.run("SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples >= :n", n=LARGE)
    return {r[0] for r in rows}


def test_no_hot_statement_scans_a_large_table(
    db: Database, function_url: Any, ingress: Any, scheduler: str
) -> None:
    with db.connection() as con:
        if int(con.run("SHOW server_version_num")[0][0]) < 160000:
            pytest.skip("EXPLAIN (GENERIC_PLAN) needs PostgreSQL 16")
    assert seed_runs(db, RUNS) == RUNS  # generate_series in batches, then ANALYZE
    before = db.counter.snapshot()
    assert _post(function_url("run_complete"), 7, PARAMS.read_bytes()).status_code == 200
    assert tick(scheduler, "ping-seeded").status_code == 202
    live = {f"live:{i}": sql for i, sql in enumerate(db.counter.snapshot() - before)}
    hot = dict(live)
    for module in HOT_MODULES:
        hot.update(_constants(ROOT / module))
    scans: dict[str, list[str]] = {}
    explained = 0
    with db.connection() as con:
        large = _large_tables(con)
        assert {"runs", "inbox", "effects", "timers", "check_state"} <= large
        for name, sql in sorted(hot.items()):
            statement, _ = pg8000.native.to_statement(sql)  # :name → $n, as prepared
            if name.rsplit(":", 1)[-1] in WHOLE_TABLE or not _one_dml_statement(statement):
                continue
            explained += 1
            [[plan]] = con.run(f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {statement}")
            hit = [t for t in _seq_scans(plan[0]["Plan"]) if t in large]
            if hit:
                scans[f"{name}: {' '.join(sql.split())[:100]}"] = hit
    assert len(live) >= 10 and explained >= 50
    assert scans == {}
