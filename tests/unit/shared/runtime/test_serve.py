"""``codex-judge serve`` finds the function a manifest names (FUNCTION_SOURCE) or says why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.runtime.serve import FunctionSourceError, package_root, resolve_source, serve
from shared.settings.serve import ServeSettings

ROOT = Path(__file__).resolve().parents[4]


def test_relative_source_resolves_against_the_installed_package_root() -> None:
    assert resolve_source("functions/judge/main.py") == package_root() / "functions/judge/main.py"
    assert (package_root() / "functions" / "__init__.py").is_file()


def test_absolute_source_is_kept_as_is(tmp_path: Path) -> None:
    main = tmp_path / "main.py"
    main.write_text("def handle(request): return 'ok'\n")
    assert resolve_source(str(main), root=ROOT) == main


def test_missing_source_names_the_variable_and_the_path_tried(tmp_path: Path) -> None:
    with pytest.raises(FunctionSourceError) as caught:
        resolve_source("functions/nope/main.py", root=tmp_path)
    assert "FUNCTION_SOURCE='functions/nope/main.py'" in str(caught.value)
    assert str(tmp_path / "functions/nope/main.py") in str(caught.value)


def test_unset_source_is_refused_before_anything_is_served() -> None:
    with pytest.raises(SystemExit) as caught:
        serve(ServeSettings(function_source=None))
    assert "FUNCTION_SOURCE is not set" in str(caught.value.code)


def test_serve_settings_read_the_functions_framework_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FUNCTION_SOURCE", "functions/merge/main.py")
    monkeypatch.setenv("FUNCTION_TARGET", "handle")
    monkeypatch.setenv("FUNCTION_SIGNATURE_TYPE", "http")
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", "8080")
    settings = ServeSettings()
    assert (settings.function_source, settings.host, settings.port) == (
        "functions/merge/main.py",
        "127.0.0.1",
        8080,
    )
