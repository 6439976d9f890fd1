"""Shared fixtures: a real Postgres (embedded, or ``DATABASE_URL``), one fresh database per
test cloned from a migrated template, and functions served over real HTTP.

Like in the cluster, nothing but the bootstrap runs as a superuser: the template is made by
:func:`shared.db.bootstrap_database` (what CNPG's initdb does) and owned by the NOSUPERUSER role
:data:`APP_ROLE`, migrations run as that role, and every test's ``settings`` connect as it.
Creating and dropping databases stays on the admin URL. The role logs in without a password,
so a ``DATABASE_URL`` server must trust local connections (pgserver's socket does).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared import bootstrap
from shared.bootstrap import Container
from shared.db import Database, bootstrap_database
from shared.db.migrate import apply_migrations
from shared.db.pool import connect_params
from shared.local.fakes.base import serve_fake
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
APP_ROLE = "codex_judge_app"  # CNPG's application role: owns its database, no superuser


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server URL with rights to create databases: ``DATABASE_URL`` or an embedded one."""
    settings = Settings()
    if settings.database_url:
        yield settings.database_url
        return
    from shared.db.embedded import start_embedded

    url, server = start_embedded(ROOT / ".data" / "test")
    yield url
    del server


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> str:
    """A template database bootstrapped like CNPG's (owned by :data:`APP_ROLE`, extensions
    created by the superuser) and migrated as :data:`APP_ROLE`, once per session."""
    name = f"cj_template_{uuid.uuid4().hex[:8]}"
    db = Database(bootstrap_database(pg_admin_url, name, APP_ROLE), size=1)
    apply_migrations(db)
    db.close()
    return name


@pytest.fixture
def database_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh database for this test, cloned from the migrated template, owned by and
    connecting as :data:`APP_ROLE`."""
    name = f"cj_test_{uuid.uuid4().hex[:10]}"
    url = bootstrap_database(pg_admin_url, name, APP_ROLE, template=template_db)
    admin = Database(pg_admin_url, size=1)
    yield url
    with admin.connection() as con:
        con.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own database, no upstream services configured."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        github_api_url="http://127.0.0.1:9",
        llm_base_url=None,
    )


@pytest.fixture
def deps(settings: Settings) -> Iterator[Container]:
    """The process container for this test (installed for in-thread function servers)."""
    container = bootstrap.build(settings)
    bootstrap.install(container)
    yield container
    bootstrap.install(None)
    container.db.close()


@pytest.fixture
def db(deps: Container) -> Database:
    return deps.db


class Served:
    """A WSGI app served on a loopback port in a background thread (:func:`serve_fake`)."""

    def __init__(self, app: Any) -> None:
        self._served = serve_fake(app)
        self.url = self._served.url

    def close(self) -> None:
        self._served.stop()


@pytest.fixture
def serve() -> Iterator[Any]:
    """``serve(app) -> Served``: real HTTP on 127.0.0.1, shut down after the test."""
    started: list[Served] = []

    def _serve(app: Any) -> Served:
        served = Served(app)
        started.append(served)
        return served

    yield _serve
    for served in started:
        with contextlib.suppress(Exception):
            served.close()


@pytest.fixture
def function_url(deps: Container, serve: Any) -> Any:
    """``function_url("run_complete") -> str``: that function's functions-framework app, served
    over real HTTP, using this test's container."""
    import functions_framework

    def _function(name: str) -> str:
        app = functions_framework.create_app(
            target="handle",
            source=str(ROOT / "functions" / name / "main.py"),
            signature_type="http",
        )
        return str(serve(app).url)

    return _function


__all__ = ["APP_ROLE", "FIXTURES", "ROOT", "connect_params"]
