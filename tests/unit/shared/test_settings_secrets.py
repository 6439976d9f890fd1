"""CODEX_JUDGE_SECRETS_DIR: mounted Secret files supply settings; the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Settings


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CODEX_JUDGE_GITHUB_TOKEN", "DATABASE_URL", "CODEX_JUDGE_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "CODEX_JUDGE_GITHUB_TOKEN").write_text("ghs_from_file\n")
    (tmp_path / "DATABASE_URL").write_text("postgresql://app@db/app")
    (tmp_path / "CODEX_JUDGE_GITHUB_WEBHOOK_SECRETS").write_text("one,two")
    monkeypatch.setenv("CODEX_JUDGE_SECRETS_DIR", str(tmp_path))
    return tmp_path


def test_files_named_like_settings_supply_them(secrets_dir: Path) -> None:
    settings = Settings()
    assert settings.github_token is not None
    assert settings.github_token.get_secret_value() == "ghs_from_file"
    assert settings.database_url == "postgresql://app@db/app"
    assert [s.get_secret_value() for s in settings.github_webhook_secrets] == ["one", "two"]


def test_an_environment_variable_wins_over_a_file(
    secrets_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_JUDGE_GITHUB_TOKEN", "ghs_from_env")
    settings = Settings()
    assert settings.github_token is not None
    assert settings.github_token.get_secret_value() == "ghs_from_env"
    assert settings.database_url == "postgresql://app@db/app"  # the file still fills the rest


def test_the_directory_is_read_when_settings_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODEX_JUDGE_SECRETS_DIR", raising=False)
    monkeypatch.delenv("CODEX_JUDGE_LLM_MODEL", raising=False)
    assert Settings().llm_model == "gpt-4o-mini"
    (tmp_path / "CODEX_JUDGE_LLM_MODEL").write_text("local-model")
    monkeypatch.setenv("CODEX_JUDGE_SECRETS_DIR", str(tmp_path))
    assert Settings().llm_model == "local-model"
