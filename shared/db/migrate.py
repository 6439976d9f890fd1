"""Numbered SQL migrations, applied in order under an advisory lock (DESIGN §5).

Files are ``shared/db/migrations/NNNN_name.sql``. Each is applied once, in its own transaction,
and recorded in ``runtime.schema_migrations`` with its SHA-256; applying twice is a no-op, and a
recorded migration whose file has since changed is an error (edit by adding a new file).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from shared.db.pool import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x636A6D67  # "cjmg": one advisory lock for every migrating process
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """A recorded migration no longer matches its file, or a file name is malformed."""


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


def apply_migrations(db: Database, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply every pending migration; returns the versions applied by this call.

    Raises:
        MigrationError: an applied migration's checksum differs from its file.
    """
    applied: list[int] = []
    with db.connection() as con:
        con.run("SELECT pg_advisory_lock(:k)", k=_LOCK_KEY)
        try:
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
                    if done[migration.version] != migration.checksum:
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
