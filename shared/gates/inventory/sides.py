"""Which files of a change the inventory reads on both sides, whatever the source (a worktree
or GitHub's git data): every changed file (both names of a rename) and the configuration that
decides what is checked (pytest/coverage/ruff/mypy/tox configuration, ``conftest.py``,
``package.json``, GitHub Actions workflows, ``go.mod``), read even when unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared.models.github import PullFile

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "is_context", "side_paths", "text_of"]

_CONTEXT = re.compile(
    r"^(pyproject\.toml|setup\.cfg|tox\.ini|pytest\.ini|\.coveragerc|mypy\.ini|package\.json"
    r"|go\.mod)$|(^|/)conftest\.py$|^\.github/workflows/[^/]+\.ya?ml$"
)
#: Files larger than this (bytes) are not read: a generated or vendored file, not a test.
MAX_FILE_BYTES = 1_000_000
#: Changes touching more files than this are left to the line-based gate.
MAX_FILES = 400


def is_context(path: str) -> bool:
    """Whether ``path`` is configuration the inventory reads on both sides."""
    return _CONTEXT.search(path) is not None


def side_paths(files: Iterable[PullFile], listing: Iterable[str]) -> set[str]:
    """The paths to read on each side: the changed ones and the context files among
    ``listing`` (every path of the head commit)."""
    changed = {p for f in files for p in (f.filename, f.previous_filename) if p}
    return changed | {p for p in listing if is_context(p)}


def text_of(data: bytes) -> str | None:
    """A file's text, or None when it is over ``MAX_FILE_BYTES`` or not UTF-8."""
    if len(data) > MAX_FILE_BYTES:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None
