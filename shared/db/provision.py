"""Database bootstrap as a superuser: what CloudNativePG's ``initdb`` does in a cluster.

In a cluster, CNPG creates the application role (NOSUPERUSER), its database owned by it, and
runs ``spec.bootstrap.initdb.postInitApplicationSQL`` (``CREATE EXTENSION IF NOT EXISTS
vector``) as the superuser; migrations then run as the application role. The embedded server
(pgserver, whose only role is the superuser ``postgres``), the demo and the tests do the same
through :func:`bootstrap_database`, so every migration runs as a non-superuser everywhere.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

from shared.db.migrate import REQUIRED_EXTENSIONS
from shared.db.pool import Database, sqlstate

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # spliced into DDL: no quoting games
_ALREADY_EXISTS = ("42710", "23505", "42P04")  # duplicate_object, unique_violation, duplicate_db

SQL_ROLE_EXISTS = "SELECT 1 FROM pg_roles WHERE rolname = :name"
SQL_EXTENSION_EXISTS = "SELECT 1 FROM pg_extension WHERE extname = :name"


def with_database(url: str, database: str, *, user: str | None = None) -> str:
    """``url`` pointing at ``database`` (and connecting as ``user``, no password, when given);
    the query string (``?host=/socket/dir``, ``sslmode``) is kept."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if user is not None:
        netloc = quote(user, safe="") + "@" + netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, "/" + quote(database, safe=""), parts.query, ""))


def _identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError(f"{what} {value!r} must match {_IDENTIFIER.pattern} (a plain identifier)")
    return value


def ensure_extensions(admin_url: str, extensions: tuple[str, ...] = REQUIRED_EXTENSIONS) -> None:
    """Create each extension in the database ``admin_url`` names, as that (super)user.

    Idempotent and safe against a concurrent caller (a lost creation race counts as done).

    Raises:
        pg8000 DatabaseError: the user may not create the extension, or it is not installed.
    """
    db = Database(admin_url, size=1)
    try:
        with db.connection() as con:
            for name in extensions:
                if con.run(SQL_EXTENSION_EXISTS, name=name):
                    continue
                try:
                    con.run(f'CREATE EXTENSION IF NOT EXISTS "{_identifier(name, "extension")}"')
                except Exception as exc:
                    if sqlstate(exc) not in _ALREADY_EXISTS:
                        raise
    finally:
        db.close()


def bootstrap_database(
    admin_url: str,
    name: str,
    owner: str,
    *,
    template: str | None = None,
    recreate: bool = False,
) -> str:
    """Create ``owner`` (LOGIN NOSUPERUSER) if absent, the database ``name`` owned by it, and
    the :data:`~shared.db.migrate.REQUIRED_EXTENSIONS` in it as the superuser.

    Args:
        admin_url: a superuser's URL on the server (any database).
        name: the database to create (a plain lower-case identifier).
        owner: the role that owns it and runs migrations and the functions.
        template: clone this database instead of ``template1`` (the tests' migrated template).
        recreate: drop ``name`` first if it exists (``WITH (FORCE)``: the demo's fresh start).

    Returns:
        The URL of the new database, connecting as ``owner`` without a password (trust
        authentication, as pgserver and the tests' servers use).

    Raises:
        ValueError: a name is not a plain identifier.
        pg8000 DatabaseError: the database already exists (without ``recreate``), or the
            admin user lacks the rights.
    """
    db, role = _identifier(name, "database"), _identifier(owner, "owner")
    source = f' TEMPLATE "{_identifier(template, "template")}"' if template else ""
    admin = Database(admin_url, size=1)
    try:
        with admin.connection() as con:
            if not con.run(SQL_ROLE_EXISTS, name=role):
                try:
                    con.run(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
                except Exception as exc:  # a concurrent bootstrap created it first
                    if sqlstate(exc) not in _ALREADY_EXISTS:
                        raise
            if recreate:
                con.run(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            con.run(f'CREATE DATABASE "{db}" OWNER "{role}"{source}')
    finally:
        admin.close()
    ensure_extensions(with_database(admin_url, db))
    return with_database(admin_url, db, user=role)
