"""Postgres access (pg8000): a small connection pool, explicit transactions, migrations.

This package and its submodules are the only code that imports ``pg8000``. Everything else sees
:class:`Database` and :class:`Tx`, whose rows are ``dict[str, Any]``; :class:`TlsOptions` carries
libpq's sslmode/sslrootcert/sslcert/sslkey (see :mod:`shared.db.connect`);
:class:`UniqueViolation` is SQLSTATE 23505 in the driver's place;
:func:`bootstrap_database` is the superuser's part of creating a database (role, database,
extensions; see :mod:`shared.db.provision`).
"""

from shared.db.connect import TlsOptions
from shared.db.pool import Database, Tx, UniqueViolation, connect_params
from shared.db.provision import bootstrap_database

__all__ = [
    "Database",
    "TlsOptions",
    "Tx",
    "UniqueViolation",
    "bootstrap_database",
    "connect_params",
]
