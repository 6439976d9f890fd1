"""GitHub Actions workflows (``.github/workflows/*.yml``) as CI steps, read with PyYAML.

Source: GitHub Docs "Workflow syntax for GitHub Actions" (``on`` with ``paths-ignore``, jobs,
``if``, ``continue-on-error``, ``steps[*].run``/``uses``/``id``/``name``) and "Evaluate
expressions in workflows" (``${{ }}`` literals ``true``/``false``/``null``/numbers/strings,
operators ``!``, ``&&``, ``||``, ``==``, ``!=``). YAML 1.1 reads a bare ``on`` key as boolean
true; it is mapped back to ``on``.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import Any

import yaml

from shared.gates.inventory.model import CiStep, Setting
from shared.gates.inventory.shell import analyse

_EXPRESSION = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.S)
_CONTEXT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\s*[.(\[]")
_LINE = "__line__"


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader that records each mapping's 1-based start line under ``__line__``."""


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def constant_value(value: Any) -> bool | None:
    """The truth of an ``if:``/``continue-on-error:`` value that reads no context, else None.

    ``false``, ``${{ false }}``, ``${{ 1 == 2 }}`` are constant; ``${{ matrix.x }}``,
    ``success()``, ``github.event_name == 'push'`` are not."""
    if isinstance(value, bool | int | float):
        return bool(value)
    if not isinstance(value, str):
        return None
    match = _EXPRESSION.match(value)
    expr = match.group(1) if match else value
    if _CONTEXT.search(expr):
        return None
    python = (
        expr.replace("&&", " and ")
        .replace("||", " or ")
        .replace("!=", " __ne__ ")
        .replace("!", " not ")
        .replace(" __ne__ ", "!=")
    )
    python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", python))
    python = re.sub(r"\bnull\b", "None", python)
    try:
        tree = ast.parse(python.strip(), mode="eval")
        allowed = (
            ast.Expression,
            ast.BoolOp,
            ast.UnaryOp,
            ast.Compare,
            ast.Constant,
            ast.And,
            ast.Or,
            ast.Not,
            ast.Eq,
            ast.NotEq,
            ast.Lt,
            ast.Gt,
            ast.LtE,
            ast.GtE,
        )
        if not all(isinstance(n, allowed) for n in ast.walk(tree)):
            return None
        return bool(eval(compile(tree, "<if>", "eval"), {"__builtins__": {}}))
    except (SyntaxError, ValueError, TypeError):
        return None


def _triggers(doc: dict[Any, Any]) -> tuple[dict[str, Any], int]:
    on = doc.get("on", doc.get(True))
    line = int(doc.get(_LINE, 1))
    if isinstance(on, str):
        return {on: {}}, line
    if isinstance(on, list):
        return {str(e): {} for e in on}, line
    if isinstance(on, dict):
        return {str(k): (v or {}) for k, v in on.items() if k != _LINE}, int(on.get(_LINE, line))
    return {}, line


@lru_cache(maxsize=256)
def workflow(path: str, text: str) -> tuple[list[CiStep], list[Setting], bool]:
    """The steps and path filters of one workflow file, and whether it parsed.

    Returns:
        (steps, settings, parsed): one :class:`CiStep` per step of every job; a
        ``paths-ignore`` :class:`Setting` per pattern per trigger.
    """
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError:
        return [], [], False
    if not isinstance(doc, dict):
        return [], [], False
    triggers, trigger_line = _triggers(doc)
    settings: list[Setting] = []
    for event, spec in triggers.items():
        if isinstance(spec, dict):
            for pattern in spec.get("paths-ignore") or []:
                settings.append(
                    Setting(
                        tool="ci",
                        key=f"{event}.paths-ignore",
                        value=str(pattern),
                        file=path,
                        line=int(spec.get(_LINE, trigger_line)),
                    )
                )
    events = frozenset(triggers)
    steps: list[CiStep] = []
    jobs = doc.get("jobs") if isinstance(doc.get("jobs"), dict) else {}
    for job_id, job in (jobs or {}).items():
        if job_id == _LINE or not isinstance(job, dict):
            continue
        job_disabled = constant_value(job.get("if", True)) is False
        job_tolerant = constant_value(job.get("continue-on-error", False)) is True
        job_line = int(job.get(_LINE, 1))
        if "uses" in job:  # a reusable workflow call is one step
            steps.append(
                CiStep(
                    file=path,
                    line=job_line,
                    job=str(job_id),
                    key=str(job["uses"]),
                    disabled=job_disabled,
                    continue_on_error=job_tolerant,
                    triggers=events,
                )
            )
        for index, step in enumerate(job.get("steps") or []):
            if not isinstance(step, dict):
                continue
            key = str(step.get("id") or step.get("name") or step.get("uses") or f"#{index}")
            run = step.get("run")
            steps.append(
                CiStep(
                    file=path,
                    line=int(step.get(_LINE, job_line)),
                    job=str(job_id),
                    key=key,
                    disabled=job_disabled or constant_value(step.get("if", True)) is False,
                    continue_on_error=job_tolerant
                    or constant_value(step.get("continue-on-error", False)) is True,
                    triggers=events,
                    command=analyse(str(run)) if run is not None else None,
                )
            )
    return steps, settings, True
