"""The run aggregate has one owner (issue 9 item 1; DESIGN §5, STYLE "each aggregate has exactly
one writer, and rows leave it as frozen typed models").

Every module of ``shared`` and ``functions`` is parsed with :mod:`ast`; each string constant
(f-strings with their holes filled) is parsed with Postgres's own parser (pglast, libpg_query).
A statement that writes ``codex_judge.runs`` (``INSERT``, ``UPDATE``, ``DELETE``, ``MERGE``,
``TRUNCATE``, also inside a CTE) outside ``shared/runs`` fails the test. Reads of the table
outside the store are listed by module with the reason they stay, so a new reader (a new source
of run rows as dicts) fails too. The statuses and terminal set of :mod:`shared.runs.model` are
checked against migration 0001's ``CHECK`` and generated ``active`` column.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pglast.parser import ParseError, parse_sql_json

from shared.runs import ACTIVE_STATUSES, STATUSES, TERMINAL_STATUSES

ROOT = Path(__file__).resolve().parents[4]
OWNER = ROOT / "shared" / "runs"
RUNS = ("codex_judge", "runs")
#: Modules outside the store that still read ``codex_judge.runs`` and why (no run rows leave
#: them as dicts of a run: they aggregate or join for their own purpose).
READERS = {
    "shared/cli/report.py": "the operator's report: runs joined with evaluation counts and the "
    "inbox path, one line each",
    "shared/local/mesh/demo_state.py": "the demo's progress counters (count(*) only)",
    "shared/local/mesh/demo_artifacts.py": "the demo's end-to-end run of a repository (its id "
    "only, for the artifacts report)",
    "shared/agents/store.py": "agent messages linked to their run by workflow uid (the run's id "
    "only; a message may arrive before the run exists)",
    "shared/local/mesh/demo_actions.py": "the demo's summary counters (count(*) only)",
    "functions/prompt_tune/usecase.py": "failing evaluations of a repository joined with their "
    "runs' issue, attempt and base branch",
    "functions/api/reads.py": "the api's read model: runs filtered and keyset-paged, answered "
    "as its own frozen models (RunSummary), never as a run to move",
    "functions/scheduler/retention.py": "retention batches: whether a row's run is still active "
    "or ended long enough ago (a boolean per row, never a run)",
    "functions/api/pulls.py": "the runs of one pull request joined with their sealed "
    "evaluation, answered as JudgeRun values",
}
_WRITES = ("InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt")
# ``:name`` bound parameters (pg8000's named style) → ``$1``; ``::type`` casts are kept.
_PARAM = re.compile(r"(?<![:\w]):(?!:)[A-Za-z_]\w*")
# Placeholders tried for an f-string's holes: a name, then an assignment (``SET {…}``).
_HOLES = ("x", "x = NULL")


def _texts(tree: ast.AST) -> Iterator[list[str]]:
    """Each string constant of ``tree`` as candidate SQL texts (an f-string: one per way of
    filling its holes)."""
    inside_fstring = {
        id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield [
                "".join(v.value if isinstance(v, ast.Constant) else hole for v in node.values)
                for hole in _HOLES
            ]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in inside_fstring
        ):
            yield [node.value]


def _parse(text: str) -> dict[str, Any] | None:
    """The statements of ``text`` as libpg_query's JSON tree, or None when it is not SQL."""
    try:
        return dict(json.loads(parse_sql_json(_PARAM.sub("$1", text))))
    except (ParseError, UnicodeEncodeError):  # prose, or a lone surrogate in a test string
        return None


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _is_runs(relation: dict[str, Any]) -> bool:
    # Unqualified ``runs`` counts too: a search_path could make it ours.
    return relation.get("relname") == RUNS[1] and relation.get("schemaname") in (None, RUNS[0])


def access(tree: dict[str, Any]) -> set[str]:
    """``{"write", "read"}`` subset: how a parsed statement tree uses ``codex_judge.runs``."""
    found: set[str] = set()
    targets: set[int] = set()
    for key, value in _walk(tree):
        if key in _WRITES and _is_runs(value["relation"]):
            found.add("write")
            targets.add(id(value["relation"]))
        elif key == "TruncateStmt" and any(_is_runs(r["RangeVar"]) for r in value["relations"]):
            found.add("write")
            targets.update(id(r["RangeVar"]) for r in value["relations"])
    for key, value in _walk(tree):
        if key == "RangeVar" and id(value) not in targets and _is_runs(value):
            found.add("read")
    return found


def module_access(source: str) -> tuple[set[str], int]:
    """How a module's SQL uses ``codex_judge.runs``, and how many strings mentioning the table
    could not be parsed as SQL (dynamic SQL that cannot be checked)."""
    found: set[str] = set()
    unparsed = 0
    for candidates in _texts(ast.parse(source)):
        trees = [t for t in map(_parse, candidates) if t is not None]
        for tree in trees[:1]:
            found |= access(tree)
        mentions = re.search(r"\bcodex_judge\.runs\b", candidates[0])
        if (
            not trees
            and mentions
            and re.match(r"(?is)\s*(with|insert|update|delete)\b", candidates[0])
        ):
            unparsed += 1
    return found, unparsed


def _modules() -> dict[str, str]:
    return {
        str(p.relative_to(ROOT)): p.read_text()
        for package in ("shared", "functions")
        for p in sorted((ROOT / package).rglob("*.py"))
    }


@pytest.fixture(scope="module")
def usage() -> dict[str, tuple[set[str], int]]:
    return {name: module_access(source) for name, source in _modules().items()}


def test_no_module_outside_the_run_store_writes_runs(
    usage: dict[str, tuple[set[str], int]],
) -> None:
    outside = {n: u for n, u in usage.items() if not n.startswith("shared/runs/")}
    writers = sorted(n for n, (found, _) in outside.items() if "write" in found)
    unchecked = sorted(n for n, (_, unparsed) in outside.items() if unparsed)
    assert writers == [], f"only shared/runs may write codex_judge.runs: {writers}"
    assert unchecked == [], f"dynamic SQL on codex_judge.runs that cannot be checked: {unchecked}"


def test_the_check_sees_the_store_s_own_writes(usage: dict[str, tuple[set[str], int]]) -> None:
    # Not vacuous: the same parse finds every writer inside the store, the f-string
    # ``transition`` of moves.py included.
    writers = {n for n, (found, _) in usage.items() if "write" in found}
    assert {
        "shared/runs/completion.py",
        "shared/runs/enrichment.py",
        "shared/runs/moves.py",
    } <= writers


@pytest.mark.parametrize(
    "source",
    [
        'SQL = """WITH m AS (UPDATE codex_judge.runs SET status = :s RETURNING id) SELECT 1"""',
        'def f(tx):\n    tx.run("DELETE FROM codex_judge.runs WHERE id = :id")',
        "SQL = \"INSERT INTO codex_judge.runs (workflow_uid, status) VALUES (:u, 'notified')\"",
        'SQL = f"UPDATE codex_judge.runs SET {sets} WHERE id = :id"',
        'SQL = "TRUNCATE codex_judge.runs"',
    ],
)
def test_a_write_in_any_shape_is_found(source: str) -> None:
    assert "write" in module_access(source)[0]


@pytest.mark.parametrize(
    "source",
    [
        '"""Docs may say UPDATE codex_judge.runs in prose."""',
        'SQL = "UPDATE codex_judge.evaluations SET decision = :d WHERE run_id = :id"',
        'SQL = "SELECT r.id FROM codex_judge.runs r JOIN runtime.timers t ON t.run_id = r.id"',
    ],
)
def test_prose_other_tables_and_reads_are_not_writes(source: str) -> None:
    assert "write" not in module_access(source)[0]


def test_reads_of_runs_outside_the_store_are_only_the_listed_ones(
    usage: dict[str, tuple[set[str], int]],
) -> None:
    readers = {
        n for n, (found, _) in usage.items() if "read" in found and not n.startswith("shared/runs/")
    }
    assert readers == set(READERS), (
        "run rows leave shared/runs as Run values; a new reader goes through shared.runs "
        f"(or is listed here with its reason): {sorted(readers ^ set(READERS))}"
    )


def _migration_column(name: str) -> set[str]:
    """The string constants in the constraints of ``codex_judge.runs.<name>`` (migration 0001)."""
    sql = (ROOT / "shared" / "db" / "migrations" / "0001_foundation.sql").read_text()
    tree = json.loads(parse_sql_json(sql))
    for key, stmt in _walk(tree):
        if key == "CreateStmt" and _is_runs(stmt["relation"]):
            for element in stmt["tableElts"]:
                column = element.get("ColumnDef", {})
                if column.get("colname") == name:
                    constants = (v for k, v in _walk(column["constraints"]) if k == "A_Const")
                    return {c["sval"]["sval"] for c in constants if "sval" in c}
    raise AssertionError(f"codex_judge.runs.{name} not found in migration 0001")


def test_the_terminal_set_is_the_one_the_table_defines() -> None:
    assert set(STATUSES) == _migration_column("status")
    assert set(TERMINAL_STATUSES) == _migration_column("active")
    assert set(ACTIVE_STATUSES) == set(STATUSES) - set(TERMINAL_STATUSES)
