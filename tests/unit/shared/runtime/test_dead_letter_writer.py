"""``runtime.dead_letters`` has one writer, :mod:`shared.runtime.dead_letters` (issue 9 item 3):
no other module of ``shared/`` or ``functions/`` holds SQL that inserts, updates or deletes its
rows. SQL is read as the string constants of each module's ``ast``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

WRITER = Path("shared/runtime/dead_letters.py")
WRITES = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+runtime\.dead_letters\b", re.I
)


def writers(paths: list[Path], root: Path = ROOT) -> list[str]:
    """``path:line`` (relative to ``root``) of every string constant in ``paths`` that writes
    the table."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and WRITES.search(node.value):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_only_the_dead_letters_module_writes_runtime_dead_letters() -> None:
    paths = sorted(p for pkg in ("shared", "functions") for p in (ROOT / pkg).rglob("*.py"))
    assert {w.split(":")[0] for w in writers(paths)} == {str(WRITER)}


def test_the_check_finds_a_second_writer(tmp_path: Path) -> None:
    rogue = tmp_path / "rogue.py"
    rogue.write_text('SQL = """update runtime.dead_letters SET reason = :r"""\n')
    assert writers([rogue], tmp_path) == ["rogue.py:1"]
