"""``codex-judge policy show|set|effective|history`` against a real Postgres database."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.cli.main import main


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI pointed at this test's database; yields a scratch directory for pack files.

    ``main`` installs a log handler on the test's captured stderr; the root logger is put
    back afterwards so later log lines do not write to a closed stream."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CODEX_JUDGE_DATA_DIR", str(tmp_path))
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield tmp_path
    root.handlers[:] = handlers
    root.setLevel(level)


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    return dict(json.loads(capsys.readouterr().out))


def test_set_from_file_then_show_and_effective(
    cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = cli / "central.yaml"
    pack.write_text("required_checks: [build]\nprotected_paths: ['^infra/']\n")
    assert main(["policy", "set", "*", str(pack), "--author", "ops"]) == 0
    assert _json(capsys)["version"] == 1
    (cli / "repo.json").write_text('{"strict": true}')
    assert main(["policy", "set", "o/r", str(cli / "repo.json")]) == 0
    capsys.readouterr()
    assert main(["policy", "show", "*"]) == 0
    shown = _json(capsys)
    assert shown["document"] == {"required_checks": ["build"], "protected_paths": ["^infra/"]}
    assert shown["created_by"] == "ops" and shown["source_format"] == "yaml"
    assert main(["policy", "effective", "o/r"]) == 0
    effective = _json(capsys)
    policy = effective["policy"]
    assert isinstance(policy, dict) and policy["strict"] is True
    assert policy["protected_paths"] == ["^infra/"]
    assert len(str(effective["hash"])) == 64


def test_set_reads_stdin_and_every_set_is_a_new_version(
    cli: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for text in ("max_attempts: 2\n", "max_attempts: 4\n"):
        monkeypatch.setattr("sys.stdin", io.StringIO(text))
        assert main(["policy", "set", "o/r"]) == 0
    capsys.readouterr()
    assert main(["policy", "show", "o/r", "--version", "1", "--raw"]) == 0
    assert capsys.readouterr().out == "max_attempts: 2\n"
    assert main(["policy", "history", "o/r"]) == 0
    versions = _json(capsys)["versions"]
    assert isinstance(versions, list) and [v["version"] for v in versions] == [1, 2]


def test_invalid_pack_exits_2_naming_the_key_and_stores_nothing(
    cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = cli / "bad.yaml"
    bad.write_text("protected_paths: ['(a)\\1']\n")  # a backreference: not RE2
    assert main(["policy", "set", "o/r", str(bad)]) == 2
    error = json.loads(capsys.readouterr().err)
    assert error["field"] == "policies[o/r].protected_paths.0"
    assert main(["policy", "show", "o/r"]) == 1
    assert json.loads(capsys.readouterr().err)["error"] == "not_found"
