"""URL and settings → connection parameters, with libpq's sslmode rules (no server)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from shared import bootstrap
from shared.db import Database, TlsOptions
from shared.db.connect import parse_url
from shared.errors import DatabaseConfigError
from shared.settings import Settings

URL = "postgresql://app:s%40cret@db.example:6432/app"


def test_the_url_gives_user_password_database_host_and_port() -> None:
    spec = parse_url(URL)
    assert spec.params == {
        "user": "app",
        "password": "s@cret",
        "database": "app",
        "host": "db.example",
        "port": 6432,
        "application_name": "codex-judge",
    }
    assert spec.where == "db.example:6432"


def test_prefer_is_the_default_sslmode_like_libpq() -> None:
    assert parse_url(URL).sslmode == "prefer"


def test_a_socket_directory_never_uses_tls() -> None:
    spec = parse_url("postgresql://postgres@/db?host=/run/pg&port=5433&sslmode=verify-full")
    assert spec.params["unix_sock"] == "/run/pg/.s.PGSQL.5433"
    assert spec.sslmode == "disable"
    assert spec.context() is None


def test_the_url_sslmode_wins_over_the_settings() -> None:
    tls = TlsOptions(sslmode="verify-full", sslrootcert="/ca.crt")
    assert parse_url(URL + "?sslmode=disable", tls=tls).sslmode == "disable"
    assert parse_url(URL, tls=tls).sslmode == "verify-full"
    assert parse_url(URL + "?sslrootcert=/other.crt", tls=tls).tls.sslrootcert == "/other.crt"


def test_require_with_a_root_certificate_is_verify_ca() -> None:
    assert parse_url(URL + "?sslmode=require").sslmode == "require"
    assert parse_url(URL + "?sslmode=require&sslrootcert=/ca.crt").sslmode == "verify-ca"


def test_sslrootcert_system_defaults_to_verify_full_and_refuses_weaker_modes() -> None:
    assert parse_url(URL + "?sslrootcert=system").sslmode == "verify-full"
    with pytest.raises(DatabaseConfigError, match="sslrootcert=system requires"):
        parse_url(URL + "?sslrootcert=system&sslmode=require")


def test_an_unknown_sslmode_is_a_configuration_error() -> None:
    with pytest.raises(DatabaseConfigError, match="sslmode='verify'"):
        parse_url(URL + "?sslmode=verify")


def test_the_modes_build_the_matching_contexts() -> None:
    require = parse_url(URL + "?sslmode=require").context()
    assert require is not None and require.verify_mode == ssl.CERT_NONE
    full = parse_url(URL + "?sslrootcert=system").context()
    assert full is not None and full.verify_mode == ssl.CERT_REQUIRED and full.check_hostname
    assert parse_url(URL + "?sslmode=disable").context() is None


def test_verify_full_without_a_root_certificate_names_the_fix() -> None:
    with pytest.raises(DatabaseConfigError, match="needs sslrootcert"):
        parse_url(URL + "?sslmode=verify-full").context()


def test_a_missing_root_certificate_fails_every_connection_clearly(tmp_path: Path) -> None:
    missing = tmp_path / "ca.crt"
    db = Database(URL + f"?sslmode=verify-ca&sslrootcert={missing}", size=1)
    for _ in range(2):
        with pytest.raises(DatabaseConfigError) as caught, db.transaction():
            pass
        assert "db.example:6432" in caught.value.message
        assert str(missing) in caught.value.message
        assert "sslmode=verify-ca" in caught.value.message


def test_db_host_replaces_the_url_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_JUDGE_DB_HOST", "codex-judge-db-pooler-rw")
    db = bootstrap.database(Settings(), URL, require_schema=False)
    assert db.where == "codex-judge-db-pooler-rw:6432"


def test_the_standard_pg_variables_feed_the_tls_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLMODE", "require")
    monkeypatch.setenv("PGSSLROOTCERT", "system")
    monkeypatch.setenv("PGSSLCERT", "/tls/client.crt")
    monkeypatch.setenv("PGSSLKEY", "/tls/client.key")
    settings = Settings()
    assert (settings.db_sslmode, settings.db_sslrootcert) == ("require", "system")
    assert (settings.db_sslcert, settings.db_sslkey) == ("/tls/client.crt", "/tls/client.key")
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    assert bootstrap.database(Settings(), URL, require_schema=False).sslmode == "verify-full"


def test_the_deprecated_db_ssl_flag_is_verify_full_with_the_system_store() -> None:
    db = bootstrap.database(Settings(db_ssl=True), URL, require_schema=False)
    assert db.sslmode == "verify-full"
    explicit = Settings(db_ssl=True, db_sslmode="require")
    assert bootstrap.database(explicit, URL, require_schema=False).sslmode == "require"
