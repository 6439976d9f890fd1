"""TLS to Postgres with libpq's sslmode semantics, against a real Postgres speaking TLS with a
private CA made in the test (see tests/support/tls_postgres.py), and a real plaintext one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared import bootstrap
from shared.db import Database, TlsOptions, connect_params
from shared.errors import DatabaseConfigError, TransientError
from shared.settings import Settings
from tests.support.tcp_proxy import CuttableProxy
from tests.support.tls_postgres import HOW_TO_RUN, TlsPostgres, postgres_bindir_with_ssl

SQL_SSL = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@pytest.fixture(scope="module")
def tls_pg() -> Iterator[TlsPostgres]:
    bindir = postgres_bindir_with_ssl()
    if bindir is None:
        pytest.skip(HOW_TO_RUN)
    server = TlsPostgres(bindir).start()
    admin = Database(server.admin_url(), size=1)
    with admin.connection() as con:
        con.run("CREATE DATABASE tlsonly")
        con.run("CREATE DATABASE certonly")
    admin.close()
    yield server
    server.stop()


@pytest.fixture
def plaintext_tcp(pg_admin_url: str) -> Iterator[str]:
    """The embedded Postgres (no TLS support at all) reached over TCP on 127.0.0.1."""
    params = connect_params(pg_admin_url)
    with CuttableProxy(params["unix_sock"]) as proxy:
        yield f"postgresql://{params['user']}@127.0.0.1:{proxy.port}/{params['database']}"


def _uses_tls(url: str, **kwargs: Any) -> bool:
    db = Database(url, size=1, **kwargs)
    try:
        with db.transaction() as tx:
            row = tx.one(SQL_SSL)
    finally:
        db.close()
    assert row is not None
    return bool(row["ssl"])


def _config_error(url: str, **kwargs: Any) -> DatabaseConfigError:
    db = Database(url, size=1, **kwargs)
    try:
        with pytest.raises(DatabaseConfigError) as caught, db.transaction():
            pass
    finally:
        db.close()
    assert not isinstance(caught.value, TransientError)
    return caught.value


def test_verify_full_with_the_right_ca_connects_over_tls(tls_pg: TlsPostgres) -> None:
    url = tls_pg.url("localhost", sslmode="verify-full", sslrootcert=str(tls_pg.ca.cert))
    assert _uses_tls(url)


def test_verify_full_refuses_a_certificate_for_another_host(tls_pg: TlsPostgres) -> None:
    url = tls_pg.url("127.0.0.1", sslmode="verify-full", sslrootcert=str(tls_pg.ca.cert))
    error = _config_error(url)
    assert f"127.0.0.1:{tls_pg.port}" in error.message
    assert "sslmode=verify-full" in error.message
    assert str(tls_pg.ca.cert) in error.message
    assert "certificate verify failed" in error.message
    assert "127.0.0.1" in error.message.split("certificate verify failed")[1]


def test_a_wrong_ca_is_a_configuration_error_not_an_outage(tls_pg: TlsPostgres) -> None:
    url = tls_pg.url("localhost", sslmode="verify-full", sslrootcert=str(tls_pg.other_ca.cert))
    error = _config_error(url)
    # The server sends its CA along (OpenSSL builds the chain from ssl_ca_file), so OpenSSL
    # names the untrusted root rather than "unable to get local issuer certificate".
    assert "certificate verify failed: self-signed certificate in certificate chain" in (
        error.message
    )
    assert str(tls_pg.other_ca.cert) in error.message
    assert error.status == 500


def test_verify_ca_checks_the_chain_but_not_the_host_name(tls_pg: TlsPostgres) -> None:
    assert _uses_tls(tls_pg.url("127.0.0.1", sslmode="verify-ca", sslrootcert=str(tls_pg.ca.cert)))
    wrong = tls_pg.url("127.0.0.1", sslmode="verify-ca", sslrootcert=str(tls_pg.other_ca.cert))
    assert "certificate verify failed" in _config_error(wrong).message


def test_require_without_a_root_certificate_uses_tls_unverified(tls_pg: TlsPostgres) -> None:
    assert _uses_tls(tls_pg.url("127.0.0.1", sslmode="require"))


def test_require_with_a_root_certificate_verifies_the_chain(tls_pg: TlsPostgres) -> None:
    url = tls_pg.url("127.0.0.1", sslmode="require", sslrootcert=str(tls_pg.other_ca.cert))
    error = _config_error(url)
    assert "sslmode=verify-ca" in error.message  # libpq: require + root cert acts as verify-ca


def test_prefer_uses_tls_when_the_server_offers_it(tls_pg: TlsPostgres) -> None:
    assert _uses_tls(tls_pg.url("127.0.0.1", sslmode="prefer"))
    assert _uses_tls(tls_pg.url("127.0.0.1"))  # prefer is the default, as in libpq


def test_prefer_falls_back_to_plaintext_when_the_server_has_no_tls(plaintext_tcp: str) -> None:
    db = Database(plaintext_tcp + "?sslmode=prefer", size=1)
    with db.transaction() as tx:
        assert tx.one("SELECT 1 AS one") == {"one": 1}
    db.close()


def test_require_against_a_server_without_tls_is_a_configuration_error(
    plaintext_tcp: str,
) -> None:
    error = _config_error(plaintext_tcp + "?sslmode=require")
    assert "does not accept TLS" in error.message


def test_disable_never_uses_tls(tls_pg: TlsPostgres) -> None:
    assert not _uses_tls(tls_pg.url("127.0.0.1", sslmode="disable"))


def test_allow_tries_plaintext_first_then_tls_when_plaintext_is_refused(
    tls_pg: TlsPostgres,
) -> None:
    assert not _uses_tls(tls_pg.url("127.0.0.1", sslmode="allow"))
    assert _uses_tls(tls_pg.url("127.0.0.1", database="tlsonly", sslmode="allow"))


def test_a_unix_socket_never_uses_tls(tls_pg: TlsPostgres) -> None:
    assert not _uses_tls(tls_pg.admin_url() + "&sslmode=require")


def test_a_missing_root_certificate_file_is_a_configuration_error(tls_pg: TlsPostgres) -> None:
    missing = tls_pg.root / "nowhere.crt"
    error = _config_error(tls_pg.url("localhost", sslmode="verify-full", sslrootcert=str(missing)))
    assert str(missing) in error.message
    assert "sslmode=verify-full" in error.message


def test_a_client_certificate_is_presented(tls_pg: TlsPostgres) -> None:
    client = tls_pg.ca.issue("client", "postgres")
    url = tls_pg.url("localhost", database="certonly")
    tls = TlsOptions(
        sslmode="verify-full",
        sslrootcert=str(tls_pg.ca.cert),
        sslcert=str(client.cert),
        sslkey=str(client.key),
    )
    assert _uses_tls(url, tls=tls)


def test_pgsslmode_is_honoured_and_the_url_wins_over_it(
    tls_pg: TlsPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(tls_pg.ca.cert))
    settings = Settings()
    assert settings.db_sslmode == "verify-full"

    def uses_tls(url: str) -> bool:
        db = bootstrap.database(settings, url, require_schema=False)
        try:
            with db.transaction() as tx:
                return bool((tx.one(SQL_SSL) or {})["ssl"])
        finally:
            db.close()

    assert uses_tls(tls_pg.url("localhost"))
    with pytest.raises(DatabaseConfigError, match="sslmode=verify-full"):
        uses_tls(tls_pg.url("127.0.0.1"))  # the environment's verify-full checks the host
    assert not uses_tls(tls_pg.url("127.0.0.1", sslmode="disable"))


def test_the_deprecated_db_ssl_flag_means_verify_full_against_the_system_store(
    tls_pg: TlsPostgres,
) -> None:
    db = bootstrap.database(Settings(db_ssl=True), tls_pg.url("localhost"), require_schema=False)
    assert db.sslmode == "verify-full"
    with pytest.raises(DatabaseConfigError, match="sslrootcert=system"), db.transaction():
        pass  # the private CA is not in the system trust store
    db.close()
