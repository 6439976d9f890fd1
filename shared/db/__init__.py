"""Postgres access (pg8000): a small connection pool, explicit transactions, migrations.

This package and its submodules are the only code that imports ``pg8000``. Everything else sees
:class:`Database` and :class:`Tx`, whose rows are ``dict[str, Any]``.
"""

from shared.db.pool import Database, Tx, connect_params

__all__ = ["Database", "Tx", "connect_params"]
