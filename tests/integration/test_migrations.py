"""Migrations run as the database's non-superuser owner, as in the cluster: the superuser's part
(extensions) belongs to the bootstrap, and the runner checks it before applying anything."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared.db import Database
from shared.db.migrate import EQUIVALENT_CHECKSUMS, MigrationError, apply_migrations, discover
from shared.db.provision import ensure_extensions, with_database
from tests.conftest import APP_ROLE

SQL_IS_SUPERUSER = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
SQL_MIGRATIONS_TABLE = "SELECT to_regclass('runtime.schema_migrations') AS t"


@pytest.fixture
def bare_database(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A new database owned by :data:`APP_ROLE` with no extension (the role exists: the
    session's template made it); yields its name."""
    name = f"cj_bare_{uuid.uuid4().hex[:10]}"
    admin = Database(pg_admin_url, size=1)
    with admin.connection() as con:
        con.run(f'CREATE DATABASE "{name}" OWNER "{APP_ROLE}"')
    yield name
    with admin.connection() as con:
        con.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_a_missing_extension_fails_clearly_and_applies_nothing(
    pg_admin_url: str, bare_database: str
) -> None:
    db = Database(with_database(pg_admin_url, bare_database, user=APP_ROLE), size=1)
    with pytest.raises(MigrationError) as caught:
        apply_migrations(db)
    message = str(caught.value)
    assert "extension vector is not installed" in message
    assert repr(bare_database) in message
    assert "CREATE EXTENSION IF NOT EXISTS vector" in message
    assert "postInitApplicationSQL" in message
    with db.transaction() as tx:
        assert tx.one(SQL_MIGRATIONS_TABLE) == {"t": None}
    db.close()


def test_migrations_succeed_as_the_owner_once_the_superuser_made_the_extension(
    pg_admin_url: str, bare_database: str
) -> None:
    ensure_extensions(with_database(pg_admin_url, bare_database))
    db = Database(with_database(pg_admin_url, bare_database, user=APP_ROLE), size=1)
    with db.transaction() as tx:
        assert tx.one(SQL_IS_SUPERUSER) == {"rolsuper": False}
    assert apply_migrations(db) == [m.version for m in discover()]
    assert apply_migrations(db) == []
    db.close()


def test_a_database_that_applied_the_old_0005_keeps_migrating(database_url: str) -> None:
    (old,) = EQUIVALENT_CHECKSUMS[5]
    db = Database(database_url, size=1)
    with db.transaction() as tx:
        tx.run("UPDATE runtime.schema_migrations SET checksum = :c WHERE version = 5", c=old)
    assert apply_migrations(db) == []
    db.close()


def test_a_changed_migration_is_still_refused(database_url: str) -> None:
    db = Database(database_url, size=1)
    with db.transaction() as tx:
        tx.run("UPDATE runtime.schema_migrations SET checksum = 'x' WHERE version = 5")
    with pytest.raises(MigrationError, match="0005_memories changed after it was applied"):
        apply_migrations(db)
    db.close()
