"""Test runners configured outside CI workflows and ``package.json``: Jest, Vitest and Mocha
configuration files, ``Makefile`` recipes, ``noxfile.py`` sessions and GitLab CI jobs.

* Jest ``jest.config.{js,cjs,mjs,ts,json}`` (Jest "Configuring Jest": ``testPathIgnorePatterns``
  and ``modulePathIgnorePatterns`` narrow; ``testMatch``/``testRegex``/``roots`` select, so
  removing an item narrows); Vitest ``vitest.config.*``/``vite.config.*`` ``test.exclude``
  (narrows) and ``test.include`` (selects) (Vitest "Configuring Vitest"); Mocha
  ``.mocharc.{js,cjs,json,jsonc,yml,yaml}`` ``ignore``/``exclude`` (narrow) and ``spec``
  (selects) (Mocha "Configuring Mocha"). JavaScript configuration is read with tree-sitter from
  its exported object (``module.exports = {...}``, ``export default {...}``,
  ``defineConfig({...})``), JSON with :mod:`json`, YAML with PyYAML.
* ``Makefile``: each recipe line of a rule (GNU make "Rule Syntax": a line that starts with a
  tab after a ``target:`` line), tokenized like a CI command once the Makefile's own
  variables are expanded; the step key is the target.
* ``noxfile.py``: ``session.run(...)`` calls with literal arguments inside functions decorated
  ``@nox.session``/``@session`` (read with :mod:`ast`).
* ``.gitlab-ci.yml``: each job's ``script`` (GitLab "CI/CD YAML syntax reference"), with
  ``allow_failure: true`` as a tolerated failure and a job whose ``rules`` are all
  ``when: never`` (or ``when: never``/``manual`` on the job) as disabled.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import yaml

from shared.gates.inventory.model import CiStep, Setting
from shared.gates.inventory.shell import analyse
from shared.gates.inventory.treesitter import Node, parse, text_of, walk

# (tool, key, narrows) of each runner's configuration keys; a dotted key is nested.
_JS_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "jest": (
        ("testPathIgnorePatterns", True),
        ("modulePathIgnorePatterns", True),
        ("testMatch", False),
        ("testRegex", False),
        ("roots", False),
    ),
    "vitest": (("test.exclude", True), ("test.include", False)),
    "mocha": (("ignore", True), ("exclude", True), ("spec", False)),
}
_JS_CONFIG = re.compile(r"^(jest|vitest|vite)\.config\.(js|cjs|mjs|ts|mts|cts|json)$")
_MOCHARC = re.compile(r"^\.mocharc\.(js|cjs|json|jsonc|yml|yaml)$")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\?|:|::|\+)?=(.*)$")
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_GITLAB_KEYWORDS = frozenset(
    {"default", "include", "stages", "variables", "workflow", "image", "services", "cache"}
)


def runner_tool(path: str) -> str | None:
    """``jest``, ``vitest`` or ``mocha`` when ``path`` is that runner's configuration file."""
    name = path.rsplit("/", 1)[-1]
    if match := _JS_CONFIG.match(name):
        return "jest" if match.group(1) == "jest" else "vitest"
    return "mocha" if _MOCHARC.match(name) else None


def _js_value(node: Node) -> Any:
    """A literal JavaScript value as Python (objects, arrays, strings, numbers, booleans);
    anything computed is its source text."""
    if node.type == "object":
        out: dict[str, Any] = {}
        for pair in (c for c in node.named_children if c.type == "pair"):
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            if key is not None and value is not None:
                out[text_of(key).strip("'\"`")] = _js_value(value)
        return out
    if node.type == "array":
        return [_js_value(c) for c in node.named_children if c.type != "comment"]
    if node.type in ("string", "template_string"):
        return text_of(node)[1:-1]
    if node.type in ("true", "false"):
        return node.type == "true"
    return text_of(node)


def _exported_object(root: Node) -> dict[str, Any] | None:
    for node in walk(root):
        target: Node | None = None
        if node.type == "export_statement":
            target = node.child_by_field_name("value") or next(
                (c for c in node.named_children if c.type in ("object", "call_expression")), None
            )
        elif node.type == "assignment_expression" and text_of(node.child_by_field_name("left")) in (
            "module.exports",
            "exports.default",
        ):
            target = node.child_by_field_name("right")
        if target is not None and target.type == "call_expression":
            args = target.child_by_field_name("arguments")
            target = (
                next((c for c in args.named_children if c.type == "object"), None) if args else None
            )
        if target is not None and target.type == "object":
            value = _js_value(target)
            return value if isinstance(value, dict) else None
    return None


def _dig(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def runner_settings(path: str, text: str) -> tuple[list[Setting], bool]:
    """The selection settings of a Jest/Vitest/Mocha configuration file, and whether it
    parsed."""
    tool = runner_tool(path)
    if tool is None:
        return [], True
    doc: Any
    if path.endswith((".json", ".jsonc")):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return [], False
    elif path.endswith((".yml", ".yaml")):
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            return [], False
    else:
        root = parse(path, text)
        if root is None:
            return [], False
        doc = _exported_object(root) or {}
    if not isinstance(doc, dict):
        return [], True
    out: list[Setting] = []
    for key, narrows in _JS_KEYS[tool]:
        value = _dig(doc, key)
        items = value if isinstance(value, list) else [value] if value is not None else []
        for item in items:
            shown = str(item)
            line = next((n for n, ln in enumerate(text.splitlines(), 1) if shown in ln), None)
            out.append(
                Setting(tool=tool, key=key, value=shown, narrows=narrows, file=path, line=line)
            )
    return out, True


def makefile_steps(path: str, text: str) -> list[CiStep]:
    """One step per recipe line of each rule of a ``Makefile`` (see the module docstring)."""
    steps: list[CiStep] = []
    target: str | None = None
    count = 0
    lines = text.replace("\\\n", " ").split("\n")
    variables = {
        m.group(1): m.group(2).strip()
        for m in (_ASSIGNMENT.match(line) for line in lines)
        if m is not None
    }
    for number, line in enumerate(lines, 1):
        if line.startswith("\t") and target is not None:
            recipe = _expand(line.strip().lstrip("@-+"), variables)
            if recipe and not recipe.startswith("#"):
                steps.append(
                    CiStep(
                        file=path,
                        line=number,
                        job="make",
                        key=f"{target}#{count}",
                        command=analyse(recipe),
                    )
                )
                count += 1
        elif line and not line.startswith(("#", " ", "\t")):
            head, colon, _ = line.partition(":")
            is_rule = colon and not line[len(head) + 1 :].startswith("=") and "=" not in head
            target = head.split()[0] if is_rule and head.split() else None
            count = 0
    return steps


def _expand(recipe: str, variables: dict[str, str]) -> str:
    """``$(NAME)``/``${NAME}`` replaced by the Makefile's own assignment of ``NAME`` (others
    kept), so ``$(PYTHON) -m pytest`` reads as ``python3 -m pytest``."""
    return _REFERENCE.sub(lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), recipe)


def noxfile_steps(path: str, text: str) -> tuple[list[CiStep], bool]:
    """One step per ``session.run(...)`` of each nox session, and whether the file parsed."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return [], False
    steps: list[CiStep] = []
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        decorators = [d.func if isinstance(d, ast.Call) else d for d in fn.decorator_list]
        if not any(ast.unparse(d) in ("nox.session", "session") for d in decorators):
            continue
        count = 0
        for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
            if not (isinstance(call.func, ast.Attribute) and call.func.attr == "run"):
                continue
            words = [
                a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else "ARG"
                for a in call.args
            ]
            steps.append(
                CiStep(
                    file=path,
                    line=call.lineno,
                    job="nox",
                    key=f"{fn.name}#{count}",
                    command=analyse(" ".join(_quote(w) for w in words)),
                )
            )
            count += 1
    return steps, True


def _quote(word: str) -> str:
    return word if re.fullmatch(r"[\w./:=@+-]+", word) else "'" + word.replace("'", "") + "'"


def _never(job: dict[str, Any]) -> bool:
    if job.get("when") in ("never", "manual"):
        return True
    rules = job.get("rules")
    return (
        isinstance(rules, list)
        and bool(rules)
        and all(isinstance(r, dict) and r.get("when") in ("never", "manual") for r in rules)
    )


def gitlab_steps(path: str, text: str) -> tuple[list[CiStep], bool]:
    """One step per job of a ``.gitlab-ci.yml`` with a ``script`` (see the module
    docstring), and whether the file parsed."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return [], False
    if not isinstance(doc, dict):
        return [], True
    steps: list[CiStep] = []
    for name, job in doc.items():
        if name in _GITLAB_KEYWORDS or str(name).startswith(".") or not isinstance(job, dict):
            continue
        script = job.get("script")
        lines = script if isinstance(script, list) else [script] if script else []
        if not lines:
            continue
        allow = job.get("allow_failure")
        line = next(
            (n for n, ln in enumerate(text.splitlines(), 1) if ln.startswith(f"{name}:")), 1
        )
        steps.append(
            CiStep(
                file=path,
                line=line,
                job=str(name),
                key="script",
                disabled=_never(job),
                continue_on_error=allow is True
                or (isinstance(allow, dict) and "exit_codes" in allow),
                command=analyse("\n".join(str(s) for s in lines)),
            )
        )
    return steps, True
