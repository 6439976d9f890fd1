"""Tool configuration that decides what is checked: pytest, coverage.py, ruff, mypy, tox,
``conftest.py``, ``package.json`` (scripts, Jest), read with tomllib, configparser, ast, json.

Sources: pytest "Configuration" (``[tool.pytest.ini_options]``, ``[pytest]``, ``[tool:pytest]``:
``addopts``, ``testpaths``, ``python_files``) and "Customizing test collection"
(``collect_ignore``, ``collect_ignore_glob``); coverage.py "Configuration reference" (``omit``,
``exclude_lines``, ``exclude_also``, ``fail_under``); ruff "Settings" (``ignore``,
``extend-ignore``, ``select``, ``extend-select``, ``per-file-ignores``, ``exclude``); mypy
"The mypy configuration file" (``strict``, ``ignore_errors``, ``[[tool.mypy.overrides]]``);
tox "Configuration" (``commands``); npm "package.json" (``scripts``); Jest "Configuring Jest"
(``testPathIgnorePatterns``, ``coverageThreshold``).
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import json
import shlex
import tomllib
from dataclasses import dataclass, field
from typing import Any

from shared.gates.inventory.model import CiStep, Setting
from shared.gates.inventory.shell import analyse

Threshold = tuple[str, str, float, str, int | None]


@dataclass
class PytestRules:
    """What pytest collects: naming rules, ``testpaths`` and the ignores/deselects read."""

    python_files: list[str] = field(default_factory=lambda: ["test_*.py", "*_test.py"])
    testpaths: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    deselect: list[str] = field(default_factory=list)
    keyword_not: list[str] = field(default_factory=list)

    def collects(self, path: str) -> bool:
        """Whether ``path`` (repository-relative) is a test module pytest collects."""
        name = path.rsplit("/", 1)[-1]
        if not any(fnmatch.fnmatch(name, p) for p in self.python_files):
            return False
        if (
            self.testpaths
            and not any(
                path == t.strip("/") or path.startswith(t.strip("./").rstrip("/") + "/")
                for t in self.testpaths
                if t.strip("./")
            )
            and "." not in [t.strip("/") for t in self.testpaths]
        ):
            return False
        return not any(
            path.startswith(i.strip("./").rstrip("/")) or fnmatch.fnmatch(path, i.strip("./"))
            for i in self.ignore
            if i.strip("./")
        )

    def selects(self, path: str, suite: str | None, name: str) -> bool:
        """Whether ``--deselect`` and ``-k "not …"`` leave this test selected."""
        node = "::".join(p for p in (path, suite, name) if p)
        if any(node == d or node.startswith(d + "::") or path == d for d in self.deselect):
            return False
        words = {name, *(suite or "").split("::"), path.rsplit("/", 1)[-1].removesuffix(".py")}
        return not any(k in words or any(k in w for w in words) for k in self.keyword_not)


def _line_of(text: str, needle: str) -> int | None:
    """The first line mentioning ``needle``: evidence for a value already parsed."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.replace(",", "\n").splitlines() if v.strip()]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


class ConfigReader:
    """Accumulates settings, thresholds, pytest rules and script steps over config files."""

    def __init__(self) -> None:
        self.settings: list[Setting] = []
        self.thresholds: list[Threshold] = []
        self.steps: list[CiStep] = []
        self.rules = PytestRules()

    def _set(
        self, tool: str, key: str, values: list[str], path: str, text: str, narrows: bool = True
    ) -> None:
        for value in values:
            self.settings.append(
                Setting(
                    tool=tool,
                    key=key,
                    value=value,
                    narrows=narrows,
                    file=path,
                    line=_line_of(text, value),
                )
            )

    def _threshold(self, tool: str, key: str, value: Any, path: str, text: str) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        self.thresholds.append((tool, key, number, path, _line_of(text, key.split(".")[-1])))

    def _pytest(self, options: dict[str, Any], path: str, text: str) -> None:
        addopts = options.get("addopts", "")
        words = shlex.split(" ".join(addopts) if isinstance(addopts, list) else str(addopts))
        for index, word in enumerate(words):
            name, _, value = word.partition("=")
            value = value or (words[index + 1] if index + 1 < len(words) else "")
            if name in ("--deselect", "--ignore", "--ignore-glob"):
                (self.rules.deselect if name == "--deselect" else self.rules.ignore).append(value)
                self._set("pytest", name.lstrip("-"), [value], path, text)
            elif name == "-k" and value.startswith("not "):
                self.rules.keyword_not.append(value.removeprefix("not ").strip())
                self._set("pytest", "k", [value], path, text)
            elif name == "--cov-fail-under":
                self._threshold("coverage", "fail_under", value, path, text)
        if "testpaths" in options:
            self.rules.testpaths = _items(options["testpaths"])
        if "python_files" in options:
            self.rules.python_files = [
                w for v in _items(options["python_files"]) for w in v.split()
            ]

    def _coverage(self, section: str, options: dict[str, Any], path: str, text: str) -> None:
        for key in ("omit", "exclude_lines", "exclude_also"):
            self._set("coverage", key, _items(options.get(key)), path, text)
        if "fail_under" in options:
            self._threshold("coverage", "fail_under", options["fail_under"], path, text)

    def _ruff(self, options: dict[str, Any], path: str, text: str) -> None:
        lint = {**options, **(options.get("lint") or {})}
        for key in ("ignore", "extend-ignore", "exclude", "extend-exclude"):
            self._set("ruff", key.removeprefix("extend-"), _items(lint.get(key)), path, text)
        for key in ("select", "extend-select"):
            self._set("ruff", "select", _items(lint.get(key)), path, text, narrows=False)
        for glob, codes in (lint.get("per-file-ignores") or {}).items():
            self._set(
                "ruff", "per-file-ignores", [f"{glob}:{c}" for c in _items(codes)], path, text
            )
        if "line-length" in options:
            self._threshold("ruff", "line-length", options["line-length"], path, text)
        mccabe = lint.get("mccabe") or {}
        if "max-complexity" in mccabe:
            self._threshold("ruff", "max-complexity", mccabe["max-complexity"], path, text)

    def _mypy(self, options: dict[str, Any], path: str, text: str, module: str = "*") -> None:
        for key in ("strict", "disallow_untyped_defs", "check_untyped_defs", "warn_return_any"):
            if str(options.get(key, "")).lower() == "true":
                self._set("mypy", key, [module], path, text, narrows=False)
        for key in ("ignore_errors", "ignore_missing_imports", "follow_imports"):
            value = str(options.get(key, "")).lower()
            if value in ("true", "skip", "silent"):
                self._set("mypy", key, [module], path, text)
        for override in options.get("overrides") or []:
            for mod in _items(override.get("module")):
                self._mypy({k: v for k, v in override.items() if k != "overrides"}, path, text, mod)

    def read_pyproject(self, path: str, text: str) -> bool:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return False
        tool = doc.get("tool") or {}
        pytest = tool.get("pytest") or {}
        self._pytest(pytest.get("ini_options") or pytest, path, text)
        coverage = tool.get("coverage") or {}
        for section in ("run", "report"):
            self._coverage(section, coverage.get(section) or {}, path, text)
        self._ruff(tool.get("ruff") or {}, path, text)
        self._mypy(tool.get("mypy") or {}, path, text)
        return True

    def read_ini(self, path: str, text: str) -> bool:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text)
        except configparser.Error:
            return False
        name = path.rsplit("/", 1)[-1]
        for section in parser.sections():
            options = dict(parser[section])
            if section in ("pytest", "tool:pytest"):
                self._pytest(options, path, text)
            elif (section in ("run", "report") and name == ".coveragerc") or section in (
                "coverage:run",
                "coverage:report",
            ):
                self._coverage(section, options, path, text)
            elif section == "mypy" or section.startswith("mypy-"):
                self._mypy(
                    options, path, text, section.removeprefix("mypy-") if "-" in section else "*"
                )
            elif section.startswith("testenv") and "commands" in options:
                for number, command in enumerate(_items(options["commands"].replace(",", " "))):
                    self.steps.append(
                        CiStep(
                            file=path,
                            line=_line_of(text, command) or 1,
                            job=section,
                            key=f"commands#{number}",
                            command=analyse(command),
                        )
                    )
        return True

    def read_conftest(self, path: str, text: str) -> bool:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return False
        folder = path.rpartition("/")[0]
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign | ast.AugAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                if names & {"collect_ignore", "collect_ignore_glob"} and isinstance(
                    stmt.value, ast.List | ast.Tuple
                ):
                    values = [e.value for e in stmt.value.elts if isinstance(e, ast.Constant)]
                    full = [f"{folder}/{v}".lstrip("/") for v in values if isinstance(v, str)]
                    self.rules.ignore += full
                    self._set("pytest", "collect_ignore", full, path, text)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                call = stmt.value
                if isinstance(call.func, ast.Attribute) and call.func.attr in ("append", "extend"):
                    target = call.func.value
                    if isinstance(target, ast.Name) and target.id.startswith("collect_ignore"):
                        self._set("pytest", "collect_ignore", [ast.unparse(call)], path, text)
        return True

    def read_package_json(self, path: str, text: str) -> bool:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return False
        if not isinstance(doc, dict):
            return False
        for name, script in (doc.get("scripts") or {}).items():
            if isinstance(script, str):
                self.steps.append(
                    CiStep(
                        file=path,
                        line=_line_of(text, f'"{name}"') or 1,
                        job="scripts",
                        key=name,
                        command=analyse(script),
                    )
                )
        jest = doc.get("jest") or {}
        if isinstance(jest, dict):
            self._set(
                "jest",
                "testPathIgnorePatterns",
                _items(jest.get("testPathIgnorePatterns")),
                path,
                text,
            )
            for key, value in ((jest.get("coverageThreshold") or {}).get("global") or {}).items():
                self._threshold("coverage", f"jest.{key}", value, path, text)
        return True
