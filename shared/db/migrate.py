"""Numbered SQL migrations, applied in order under an advisory lock (DESIGN §5).

Files are ``shared/db/migrations/NNNN_name.sql``. Each is applied once, in its own transaction,
and recorded in ``runtime.schema_migrations`` with its SHA-256; applying twice is a no-op, and a
recorded migration whose file has since changed is an error (edit by adding a new file). The one
exception is :data:`EQUIVALENT_CHECKSUMS`: an earlier text of a file that is known to leave the
same schema behind.

Migrations never need a superuser: they run as the database's owner (CNPG's application role).
What only a superuser may do, creating the :data:`REQUIRED_EXTENSIONS`, belongs to the
database's bootstrap (CNPG ``spec.bootstrap.initdb.postInitApplicationSQL``; locally
:func:`shared.db.provision.bootstrap_database`); the runner checks it before applying anything.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pg8000.native

from shared.db.pool import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x636A6D67  # "cjmg": one advisory lock for every migrating process
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


REQUIRED_EXTENSIONS: tuple[str, ...] = ("vector",)
"""Extensions the migrations use and may not create (not trusted: superuser only). pgvector:
``memories.entries.embedding`` (0005)."""

EQUIVALENT_CHECKSUMS: dict[int, frozenset[str]] = {
    # 0005_memories before the extension moved to the bootstrap: it began with
    # CREATE EXTENSION IF NOT EXISTS vector; databases that applied it have the extension.
    5: frozenset({"76fdcf7aa991d2b1369b82276bfd8cbb9927b7916f83c2907fcda07cfd592ada"}),
}
"""Earlier checksums accepted as "this migration is applied", by version."""


class MigrationError(RuntimeError):
    """A recorded migration no longer matches its file, a file name is malformed, or the
    database lacks an extension the migrations need."""


@dataclass(frozen=True)
class Migration:
    """One SQL file: its version number, name, text and checksum."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file in version order.

    Raises:
        MigrationError: a file name does not match ``NNNN_name.sql`` or a version repeats.
    """
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"migration version {version} appears twice")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


SQL_INSTALLED_EXTENSIONS = "SELECT extname FROM pg_extension"


def missing_extensions(con: pg8000.native.Connection) -> list[str]:
    """The :data:`REQUIRED_EXTENSIONS` not installed in the connected database, in order."""
    installed = {row[0] for row in con.run(SQL_INSTALLED_EXTENSIONS)}
    return [name for name in REQUIRED_EXTENSIONS if name not in installed]


def _extension_error(missing: list[str], database: str) -> MigrationError:
    creates = "; ".join(f"CREATE EXTENSION IF NOT EXISTS {name}" for name in missing)
    return MigrationError(
        f"extension {', '.join(missing)} is not installed in database {database!r}, and the"
        " migrations need it; only a superuser may create it: connect to that database as"
        f" one and run `{creates}` (CloudNativePG: list it in the Cluster's"
        " spec.bootstrap.initdb.postInitApplicationSQL; a database bootstrapped before that"
        " needs the statement run once by hand, e.g. kubectl cnpg psql <cluster> -- -d"
        f" {database}); nothing was applied"
    )


def apply_migrations(db: Database, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply every pending migration; returns the versions applied by this call.

    Raises:
        MigrationError: an extension of :data:`REQUIRED_EXTENSIONS` is missing (checked before
            anything is applied), or an applied migration's checksum differs from its file
            (and from its :data:`EQUIVALENT_CHECKSUMS`).
    """
    applied: list[int] = []
    with db.connection() as con:
        con.run("SELECT pg_advisory_lock(:k)", k=_LOCK_KEY)
        try:
            missing = missing_extensions(con)
            if missing:
                (database,) = con.run("SELECT current_database()")[0]
                raise _extension_error(missing, str(database))
            con.run("CREATE SCHEMA IF NOT EXISTS runtime")
            con.run(
                "CREATE TABLE IF NOT EXISTS runtime.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                row[0]: row[1]
                for row in con.run("SELECT version, checksum FROM runtime.schema_migrations")
            }
            for migration in discover(directory):
                if migration.version in done:
                    accepted = {migration.checksum} | EQUIVALENT_CHECKSUMS.get(
                        migration.version, frozenset()
                    )
                    if done[migration.version] not in accepted:
                        raise MigrationError(
                            f"migration {migration.version:04d}_{migration.name} changed after "
                            "it was applied; add a new migration instead"
                        )
                    continue
                con.run("BEGIN")
                try:
                    con.execute_simple(migration.sql)
                    con.run(
                        "INSERT INTO runtime.schema_migrations (version, name, checksum)"
                        " VALUES (:v, :n, :c)",
                        v=migration.version,
                        n=migration.name,
                        c=migration.checksum,
                    )
                    con.run("COMMIT")
                except BaseException:
                    con.run("ROLLBACK")
                    raise
                applied.append(migration.version)
        finally:
            con.run("SELECT pg_advisory_unlock(:k)", k=_LOCK_KEY)
    return applied
