"""Every function folder has the same shape (issue 9 item 6; STYLE "uniform units"): ``main.py``
binds the entry point ``handle`` (functions-framework's target, the Service's
``FUNCTION_TARGET``) and its use cases live in ``usecase.py`` beside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

#: The api is an HTTP application (JSON routes and pages: functions/api/app.py), not a CloudEvent
#: consumer with a use case per event type; it still binds ``handle`` in main.py.
NOT_EVENT_CONSUMERS = {"api"}
FOLDERS = sorted(p.parent for p in (ROOT / "functions").glob("*/main.py"))


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_each_function_binds_handle_in_main_and_keeps_its_use_cases_in_usecase(
    folder: Path,
) -> None:
    tree = ast.parse((folder / "main.py").read_text())
    bound = {
        target.id
        for node in tree.body
        for target in (node.targets if isinstance(node, ast.Assign) else [])
        if isinstance(target, ast.Name)
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "handle" in bound, f"{folder.name}/main.py binds no handle"
    if folder.name in NOT_EVENT_CONSUMERS:
        return
    assert (folder / "usecase.py").is_file(), f"{folder.name} has no usecase.py"
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert f"functions.{folder.name}.usecase" in imported, f"{folder.name}/main.py skips usecase"
