"""A test-and-CI inventory of one repository state, and the comparison of two of them.

:func:`build_inventory` reads the files it is given (path → text: the changed files of a pull
request on one side, plus the configuration beside them) with real parsers: :mod:`ast` and
:mod:`tokenize` for Python, tree-sitter for JavaScript/TypeScript, Go, Java and Rust, PyYAML
for GitHub Actions and GitLab CI, tomllib/configparser/json for tool configuration (Jest,
Vitest and Mocha files, ``Makefile`` recipes and nox sessions in
:mod:`shared.gates.inventory.runners`), :mod:`shlex` for commands.
:func:`~shared.gates.inventory.compare.compare` turns a base and a head inventory into
findings. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import lru_cache

from shared.gates.antigaming import Finding
from shared.gates.inventory import (
    actions,
    golang,
    interface,
    javascript,
    jvm_rust,
    python,
    runners,
    treesitter,
)
from shared.gates.inventory.compare import compare
from shared.gates.inventory.config import ConfigReader
from shared.gates.inventory.model import (
    ChangeSnapshot,
    Inventory,
    Language,
    Setting,
    Tell,
    TestCase,
)
from shared.gates.inventory.semantic import QUESTIONS, semantic_questions

__all__ = [
    "QUESTIONS",
    "ChangeSnapshot",
    "Inventory",
    "build_inventory",
    "inventory_findings",
    "inventory_questions",
    "is_test_path",
]

_JS = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")
_FILE_LEVEL = (
    ("ruff", "noqa-file", ("# ruff: noqa", "# flake8: noqa")),
    ("mypy", "ignore-errors-file", ("# mypy: ignore-errors", "# type: ignore")),
    ("eslint", "disable-file", ("/* eslint-disable */", "/* eslint-disable*/")),
    ("tsc", "nocheck-file", ("// @ts-nocheck",)),
)
_INLINE = (
    "noqa",
    "type: ignore",
    "eslint-disable",
    "pylint: disable",
    "@ts-ignore",
    "@ts-expect-error",
    "nolint",
    "pragma: no cover",
    "istanbul ignore",
    "c8 ignore",
)


def is_test_path(path: str) -> bool:
    """Whether ``path`` is where tests live by convention (``tests/``, ``test_*.py``,
    ``*.spec.ts``, ``*_test.go``...), collected or not."""
    parts = path.split("/")
    name = parts[-1]
    folders = {p.lower() for p in parts[:-1]}
    return bool(folders & {"test", "tests", "testing", "__tests__", "spec", "specs"}) or (
        "test" in name.lower() or ".spec." in name
    )


def _comments(path: str, text: str) -> list[tuple[int, str]]:
    if path.endswith(".py"):
        return list(python.python_comments(text))
    if treesitter.grammar_for(path):
        return treesitter.comments(path, text)
    return []


@lru_cache(maxsize=1024)
def _suppressions(path: str, text: str) -> tuple[Setting, ...]:
    out: list[Setting] = []
    seen: Counter[str] = Counter()
    lines = text.splitlines()
    first_code = next(
        (
            n
            for n, ln in enumerate(text.splitlines(), 1)
            if ln.strip() and not ln.lstrip().startswith(("#", "//", "/*", "*"))
        ),
        0,
    )
    for line, comment in _comments(path, text):
        body = " ".join(comment.split())
        for tool, key, spellings in _FILE_LEVEL:
            if any(body == s or body.startswith(s + " ") for s in spellings) and (
                key != "ignore-errors-file" or "mypy" in body or line < first_code
            ):
                out.append(Setting(tool=tool, key=key, value=path, file=path, line=line))
        marker = next((m for m in _INLINE if m in body.lower()), None)
        if marker is not None:
            # The code the comment sits on names it: moving lines keeps the identity.
            code = lines[line - 1].replace(comment, "").strip() if line <= len(lines) else ""
            seen[f"{marker}|{code}"] += 1
            marker = f"{marker}|{code}|{seen[f'{marker}|{code}']}"
            key = (
                "pragma-no-cover"
                if marker.startswith(("pragma: no cover", "istanbul ignore", "c8 ignore"))
                else "inline-suppression"
            )
            out.append(
                Setting(
                    tool="source",
                    key=key,
                    value=f"{path}|{marker}",
                    file=path,
                    line=line,
                )
            )
    return tuple(out)


def build_inventory(files: Mapping[str, str]) -> Inventory:
    """The inventory of the files given (see the module docstring).

    Args:
        files: repository path → text, one side of a change. Paths with other extensions
            are recorded in ``files`` and otherwise ignored.
    """
    reader = ConfigReader()
    unparsable: set[str] = set()
    for path, text in sorted(files.items()):
        name = path.rsplit("/", 1)[-1]
        ok = True
        if name == "pyproject.toml":
            ok = reader.read_pyproject(path, text)
        elif name in ("setup.cfg", "tox.ini", "pytest.ini", ".coveragerc", "mypy.ini"):
            ok = reader.read_ini(path, text)
        elif name == "conftest.py":
            ok = reader.read_conftest(path, text)
        elif name == "package.json":
            ok = reader.read_package_json(path, text)
        if not ok:
            unparsable.add(path)
    steps = list(reader.steps)
    settings = list(reader.settings)
    tests: list[TestCase] = []
    tells: list[Tell] = []
    symbols: set[str] = set()
    imported: set[str] = set()
    helpers: set[str] = set()
    code_lines: set[str] = set()
    for path, text in sorted(files.items()):
        parsed = True
        name = path.rsplit("/", 1)[-1]
        if path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml")):
            found, filters, parsed = actions.workflow(path, text)
            steps += found
            settings += filters
        elif runners.runner_tool(path) is not None:
            found_settings, parsed = runners.runner_settings(path, text)
            settings += found_settings
        elif name in ("Makefile", "makefile", "GNUmakefile"):
            steps += runners.makefile_steps(path, text)
        elif name == "noxfile.py":
            found_steps, parsed = runners.noxfile_steps(path, text)
            steps += found_steps
        elif path == ".gitlab-ci.yml":
            found_steps, parsed = runners.gitlab_steps(path, text)
            steps += found_steps
        elif path.endswith((".py", *_JS, ".go", ".java", ".rs")):
            settings += _suppressions(path, text)
            test_file = is_test_path(path)
            if path.endswith(".py") and test_file and path.rsplit("/", 1)[-1] != "conftest.py":
                found_tests, parsed = python.python_tests(path, text, reader.rules.collects(path))
                tests += [
                    t
                    if reader.rules.selects(t.file, t.suite, t.name)
                    else t.model_copy(update={"collected": False})
                    for t in found_tests
                ]
            elif path.endswith(_JS) and test_file:
                language: Language = "typescript" if ".ts" in path else "javascript"
                found_tests, parsed = javascript.js_tests(path, text, True, language)
                tests += found_tests
                helpers |= javascript.js_helpers(path, text)
            elif path.endswith(".go") and test_file:
                found_tests, parsed = golang.go_tests(path, text, path.endswith("_test.go"))
                tests += found_tests
            elif path.endswith(".java") and test_file:
                found_tests, parsed = jvm_rust.java_tests(path, text)
                tests += found_tests
            elif path.endswith(".rs") and test_file:
                found_tests, parsed = jvm_rust.rust_tests(path, text)
                tests += found_tests
            elif path.endswith(".py"):
                code_lines |= {f"{path}|{ln.split('#')[0].strip()}" for ln in text.splitlines()}
                symbols |= python.python_symbols(text)
                imported |= interface.python_interface(text)
                tells += python.python_tells(path, text)
            else:
                code_lines |= {f"{path}|{ln.split('//')[0].strip()}" for ln in text.splitlines()}
                found_tests = []
                if path.endswith(".rs"):  # unit tests live in ``#[cfg(test)]`` modules
                    found_tests, parsed = jvm_rust.rust_tests(path, text)
                    tests += found_tests
                symbols |= treesitter.symbols(path, text) - {t.name for t in found_tests}
                if path.endswith(".java"):
                    imported |= interface.java_interface(path, text)
                tells += treesitter.tells(path, text)
        if not parsed:
            unparsable.add(path)
    return Inventory(
        tests=tuple(tests),
        steps=tuple(steps),
        settings=tuple(settings),
        thresholds=tuple(reader.thresholds),
        tells=tuple(tells),
        symbols=frozenset(symbols),
        interface=frozenset(imported),
        helpers=frozenset(helpers),
        code_lines=frozenset(code_lines),
        files=frozenset(files),
        unparsable=frozenset(unparsable),
    )


def inventory_findings(snapshot: ChangeSnapshot) -> list[Finding]:
    """Every finding of a change: its base and head inventories compared as a whole
    (:func:`shared.gates.inventory.compare.compare`)."""
    return compare(build_inventory(snapshot.base), build_inventory(snapshot.head))


def inventory_questions(snapshot: ChangeSnapshot) -> list[Finding]:
    """The semantic questions the change raises (warnings that decide nothing:
    :func:`shared.gates.inventory.semantic.semantic_questions`)."""
    return semantic_questions(build_inventory(snapshot.base), build_inventory(snapshot.head))
