"""Shell command lines as the runner would execute them, tokenized with :mod:`shlex`.

A ``run:`` script, a ``package.json`` script or a tox ``commands`` entry is split into simple
commands at ``;``, ``&&``, ``||``, ``|``, ``&`` and newlines (POSIX shell "Lists"). What is read:

* tools: the test/lint/coverage programs a simple command runs, after wrappers such as
  ``python -m``, ``uv run``, ``poetry run``, ``npx``, ``npm run``, ``env``, ``time``; Maven
  phases that run tests (``mvn verify``), Gradle ``test``/``check``/``build``, ``cargo test``/
  ``nextest``/``clippy``;
* tolerance: ``X || true``, ``X || :``, ``X || exit 0``, ``X; exit 0`` (an ``exit 0`` as the
  script's last command after a tool), ``set +e`` (bash "The Set Builtin");
* ``--collect-only``/``--co`` (pytest), ``--listTests`` (jest), ``go test -list``,
  ``cargo test --no-run``/``-- --list``, Maven ``-DskipTests``/``-Dmaven.test.skip=true``;
* narrowing options: pytest ``-k`` with ``not``, ``--deselect``, ``--ignore``,
  ``--ignore-glob``; ``go test -run``/``-skip``; jest ``--testPathIgnorePatterns``,
  ``--passWithNoTests``; Maven ``-Dtest``/``-DskipITs``, Gradle ``-x test``,
  ``cargo test --skip``.
"""

from __future__ import annotations

import shlex

from shared.gates.inventory.model import Command

_SEPARATORS = frozenset({";", "&&", "||", "|", "&", ";;", "\n"})
_WRAPPERS = frozenset(
    {"env", "time", "sudo", "npx", "pnpx", "bunx", "exec", "xvfb-run", "then", "do", "else", "!"}
)
_RUNNERS = {
    ("uv", "run"),
    ("poetry", "run"),
    ("pdm", "run"),
    ("hatch", "run"),
    ("pipenv", "run"),
    ("rye", "run"),
    ("pnpm", "exec"),
    ("yarn", "exec"),
    ("npm", "exec"),
}
_TOOLS = frozenset(
    {
        "pytest",
        "py.test",
        "tox",
        "nox",
        "unittest",
        "jest",
        "mocha",
        "vitest",
        "ava",
        "tap",
        "ruff",
        "mypy",
        "flake8",
        "pylint",
        "eslint",
        "tsc",
        "coverage",
        "nyc",
        "c8",
        "golangci-lint",
        "staticcheck",
        "pyright",
        "black",
        "prettier",
        "biome",
        "xo",
        "tsd",
        "playwright",
        "cypress",
    }
)
_PROGRAMS = frozenset({"python", "python3", "go", "npm", "yarn", "pnpm", "bun", "make", "node"})
_SCRIPT_TOOLS = {"test": "npm test", "lint": "npm lint", "coverage": "npm coverage"}
_MAVEN_PHASES = frozenset({"test", "integration-test", "verify", "install", "deploy", "package"})
_GRADLE_TASKS = frozenset({"test", "check", "build"})
_COLLECT_ONLY = frozenset(
    {
        "--collect-only",
        "--co",
        "--listTests",
        "-list",
        "--no-run",  # cargo test: build the tests, run none
        "--list",  # cargo test -- --list
        "-DskipTests",  # Maven: compile the tests, run none
        "-Dmaven.test.skip=true",
    }
)
_NARROW_VALUE = frozenset(
    {
        "--deselect",
        "--ignore",
        "--ignore-glob",
        "-run",
        "-skip",
        "--testPathIgnorePatterns",
        "--exclude",
    }
)


def _tokens(script: str) -> list[str]:
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=";&|")
    lexer.whitespace = " \t\r"
    lexer.wordchars += "+:@%^,{}[]$!<>()"
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: read it word by word
        return script.split()


def _simple_commands(script: str) -> list[tuple[list[str], str | None]]:
    """(words, the operator that follows) for each simple command of ``script``."""
    out: list[tuple[list[str], str | None]] = []
    words: list[str] = []
    for token in _tokens(script):
        parts = token.split("\n")
        for index, part in enumerate(parts):
            if index:
                out.append((words, "\n"))
                words = []
            if part in _SEPARATORS:
                out.append((words, part))
                words = []
            elif part:
                words.append(part)
    out.append((words, None))
    return [(w, op) for w, op in out if w]


def _tool(words: list[str]) -> tuple[str | None, list[str]]:
    """The tool a simple command runs and its arguments, after wrappers; (None, []) for others."""
    rest = [w for w in words if "=" not in w or w.startswith("-")]
    while rest:
        head = rest[0].rsplit("/", 1)[-1]
        if head in _WRAPPERS:
            rest = rest[1:]
        elif len(rest) > 1 and (head, rest[1]) in _RUNNERS:
            # The runner's own options (``uv run --group dev pytest``): on to the first program.
            programs = [i for i, w in enumerate(rest[2:], 2) if w in _TOOLS or w in _PROGRAMS]
            rest = rest[programs[0] :] if programs else rest[2:]
        elif head.startswith("python") and len(rest) > 2 and rest[1] == "-m":
            rest = rest[2:]
        else:
            break
    if not rest:
        return None, []
    head, args = rest[0].rsplit("/", 1)[-1], rest[1:]
    if head == "go" and args and args[0] in ("test", "vet"):
        return f"go {args[0]}", args[1:]
    if head in ("npm", "yarn", "pnpm", "bun") and args:
        script = args[1] if args[0] in ("run", "run-script") and len(args) > 1 else args[0]
        # ``test``, ``test:ci``, ``test-ci``: the package's own test script, by npm's naming.
        stem = next(
            (n for n in _SCRIPT_TOOLS if script == n or script.startswith((f"{n}:", f"{n}-"))), None
        )
        return (_SCRIPT_TOOLS[stem] if stem else None), args
    if head in ("mvn", "mvnw", "gradle", "gradlew"):
        # Maven phases from ``test`` on run the tests (``verify``, ``install``...); Gradle
        # ``test``/``check``/``build`` (the Maven and Gradle lifecycle documentation).
        phases = _MAVEN_PHASES if head.startswith("mvn") else _GRADLE_TASKS
        goal = next((a.rsplit(":", 1)[-1] for a in args if a.rsplit(":", 1)[-1] in phases), None)
        return (f"{head.removesuffix('w')} {goal}" if goal else None), args
    if head == "cargo" and args and args[0] in ("test", "nextest", "clippy", "tarpaulin"):
        return f"cargo {args[0]}", args[1:]
    if head == "make" and args and any(a.startswith(("test", "check", "lint")) for a in args):
        return "make " + next(a for a in args if a.startswith(("test", "check", "lint"))), args
    return (head if head in _TOOLS else None), args


def analyse(script: str) -> Command:
    """The :class:`Command` view of one script (see the module docstring)."""
    commands = _simple_commands(script)
    tools: set[str] = set()
    narrowing: list[str] = []
    collect_only = tolerant = False
    seen_tool = False
    for index, (words, _operator) in enumerate(commands):
        tool, args = _tool(words)
        if words[:2] == ["set", "+e"] or (words[0] == "set" and "+e" in words[1:2]):
            tolerant = True
        if words[0] in ("exit", "true", ":") and words[1:] in ([], ["0"]):
            previous = commands[index - 1][1] if index else None
            if previous == "||" or (seen_tool and index == len(commands) - 1 and previous != "&&"):
                tolerant = True
        if tool is None:
            continue
        seen_tool = True
        tools.add(tool)
        collect_only |= any(a in _COLLECT_ONLY for a in args)
        for position, arg in enumerate(args):
            name, _, value = arg.partition("=")
            if name in _NARROW_VALUE:
                narrowing.append(
                    f"{name} {value or (args[position + 1] if position + 1 < len(args) else '')}"
                )
            elif arg == "-k" and position + 1 < len(args) and "not " in f" {args[position + 1]}":
                narrowing.append(f"-k {args[position + 1]}")
            elif arg in ("--passWithNoTests", "--exit-zero", "--fail-under=0") or name in (
                "-DskipITs",
                "-Dtest",
                "--skip",
            ):
                narrowing.append(arg)
            elif arg == "-x" and position + 1 < len(args) and "test" in args[position + 1]:
                narrowing.append(f"-x {args[position + 1]}")
    return Command(
        tools=frozenset(tools),
        tolerant=tolerant,
        collect_only=collect_only,
        narrowing=tuple(narrowing),
        text=" ".join(" ".join(w) for w, _ in commands)[:300],
    )
