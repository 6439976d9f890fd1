"""The import rules of the layout (issue 9) hold: ``lint-imports`` over the contracts in
``pyproject.toml``, the same check ``make lint`` runs, so ``make test`` catches a broken rule too.

The contracts are read with ``tomllib``; a rule cannot disappear from the configuration without
this test naming it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

RULES = {
    "functions-not-local",
    "cli-not-local",
    "production-not-local",
    "gates-pure",
    "drivers-in-adapters",
    "acyclic",
}


def test_every_import_rule_of_the_layout_is_configured() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert config["include_external_packages"] is True  # httpx and pg8000 are in the graph
    assert {contract["id"] for contract in config["contracts"]} >= RULES


def test_lint_imports_keeps_every_contract() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
