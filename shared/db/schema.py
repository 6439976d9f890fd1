"""A function refuses to serve against a schema older than the migrations it ships.

A function process's first transaction (see :class:`shared.db.Database`'s ``gate``) compares
``max(version)`` of ``runtime.schema_migrations`` with the newest file in
``shared/db/migrations``. Older, or no table at all, is a :class:`~shared.errors.SchemaBehindError`
(503: the migration Job may still be running, and Knative redelivers later); the check runs again
on the next transaction until it passes once, and only a pass is remembered. A newer schema is
fine: during a rolling deploy the previous build keeps serving after the Job migrated.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from shared.db.migrate import MIGRATIONS_DIR, Migration, discover
from shared.db.pool import Database, sqlstate, transient_errors
from shared.errors import SchemaBehindError

log = logging.getLogger("codex_judge.db.schema")

_UNDEFINED_TABLE = "42P01"
SQL_SCHEMA_VERSION = "SELECT max(version) AS version FROM runtime.schema_migrations"


def schema_version(db: Database) -> int | None:
    """The newest applied migration's version, or None when nothing was ever migrated.

    Raises:
        TransientError: the database is unreachable.
    """
    with transient_errors(), db.connection() as con:
        con.run("BEGIN READ ONLY")
        try:
            rows = con.run(SQL_SCHEMA_VERSION)
        except Exception as exc:
            if sqlstate(exc) != _UNDEFINED_TABLE:
                raise
            rows = [[None]]
        finally:
            con.run("ROLLBACK")
    version = rows[0][0] if rows else None
    return int(version) if version is not None else None


def behind_message(current: int | None, missing: list[Migration]) -> str:
    """``database schema at 0007, this build needs 0008 (0008_reruns_prompt_tuning): run
    `codex-judge migrate```."""
    at = (
        f"at {current:04d}"
        if current is not None
        else "not migrated (no runtime.schema_migrations)"
    )
    needs = ", ".join(f"{m.version:04d}_{m.name}" for m in missing)
    return (
        f"database schema {at}, this build needs {missing[-1].version:04d} ({needs}):"
        " run `codex-judge migrate`"
    )


class SchemaGate:
    """Callable gate for :class:`Database`: raises until the schema is at least this build's.

    Logs one WARNING line per process while the schema is behind (again only if what is
    missing changes), so a queue of redeliveries does not flood the log.

    Args:
        directory: where the shipped migrations are (their newest version is required).
    """

    def __init__(self, directory: Path = MIGRATIONS_DIR) -> None:
        self._migrations = discover(directory)
        self._lock = threading.Lock()
        self._logged: str | None = None

    @property
    def required(self) -> int:
        """The newest shipped migration's version (0 when none ship)."""
        return self._migrations[-1].version if self._migrations else 0

    def __call__(self, db: Database) -> None:
        """Check ``db``.

        Raises:
            SchemaBehindError: the schema is older than :attr:`required`.
            TransientError: the database is unreachable.
        """
        current = schema_version(db)
        if current is not None and current >= self.required:
            return
        missing = [m for m in self._migrations if current is None or m.version > current]
        message = behind_message(current, missing)
        with self._lock:
            first, self._logged = self._logged != message, message
        if first:
            log.warning(message, extra={"schema_version": current, "required": self.required})
        raise SchemaBehindError(message, schema_version=current, required=self.required)
