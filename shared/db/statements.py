"""Prepared statements cached per connection, and a statement counter.

pg8000's ``Connection.run`` with parameters sends Parse, Describe and Bind/Execute as three
synchronised exchanges, re-parsing the SQL text every time: three round trips per statement.
A named prepared statement (``Connection.prepare``, the extended protocol's named Parse) is
parsed and described once per connection; each later use is one Bind/Execute/Sync exchange
(PostgreSQL docs, "Message Flow", §55.2.3). Named statements live for the session, not the
transaction, so a rollback keeps them.

The cache is per connection (a statement name means nothing on another session), keyed by the
SQL text, least recently used first out, bounded by :data:`MAX_STATEMENTS` (each prepared
statement holds server memory for its plan). A schema change that alters a cached statement's
result type makes the server answer ``cached plan must not change result type`` (SQLSTATE
0A000); :func:`shared.db.pool.is_transient` classes it as transient, the pool drops the
connection with its cache, and the redelivered event prepares afresh.

A transaction's ``BEGIN`` can travel with its first prepared statement and its ``COMMIT`` with
its last (:meth:`StatementCache.execute` ``begin``/``commit``): the messages are written
together and flushed once, and the server answers each in order (the protocol allows a simple
Query after a Sync, "Pipelining", §55.2.4), so a transaction of n statements costs n round trips
instead of n + 2. The messages are written with ``pg8000.core``'s own writers, which are not
pg8000's public API: ``pyproject.toml`` pins pg8000 to the minor release they were read from.

Through PgBouncer in transaction pooling mode (the CNPG Pooler), protocol-level named
statements need PgBouncer 1.21 or later with ``max_prepared_statements`` above 0, which
tracks them per server connection; an older pooler would answer "prepared statement … does
not exist".
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter, OrderedDict
from typing import Any

import pg8000.native
from pg8000.converters import make_params
from pg8000.core import SYNC_MSG, Context, _flush, _write
from pg8000.exceptions import DatabaseError, InterfaceError

#: The most prepared statements kept per connection; the least recently used one is closed.
MAX_STATEMENTS = 256


class StatementCache:
    """The prepared statements of one connection, least recently used first.

    Args:
        con: the connection; the cache is used by one thread at a time (the pool lends a
            connection to one transaction).
        size: the most statements kept (:data:`MAX_STATEMENTS`).
    """

    def __init__(self, con: pg8000.native.Connection, size: int = MAX_STATEMENTS) -> None:
        self._con = con
        self._size = size
        self._prepared: OrderedDict[str, pg8000.native.PreparedStatement] = OrderedDict()

    def __len__(self) -> int:
        return len(self._prepared)

    def execute(
        self, sql: str, params: dict[str, Any], *, begin: bool = False, commit: bool = False
    ) -> tuple[list[list[Any]], list[str], int]:
        """Run ``sql`` (``:name`` placeholders) with ``params`` as a prepared statement.

        Args:
            begin: send ``BEGIN`` ahead of it, in the same round trip.
            commit: send ``COMMIT`` after it, in the same round trip; when the statement
                fails, that ``COMMIT`` ends the failed transaction (the server rolls it back)
                and the statement's error is raised.

        Returns:
            ``(rows, column names, affected row count or -1)``.

        Raises:
            pg8000 errors: as the server answers (a failed Parse caches nothing).
        """
        statement = self._prepared.get(sql)
        if statement is None:
            statement = self._con.prepare(sql)
            self._prepared[sql] = statement
            if len(self._prepared) > self._size:
                _, oldest = self._prepared.popitem(last=False)
                oldest.close()
        else:
            self._prepared.move_to_end(sql)
        if begin or commit:
            context = self._pipelined(statement, params, begin, commit)
        else:
            statement.run(**params)
            context = statement._context  # pg8000 keeps the last execution's result here
        columns = [c["name"] for c in (context.columns or [])]
        count = context.row_count
        return context.rows or [], columns, int(count if count is not None else -1)

    def _pipelined(
        self,
        statement: pg8000.native.PreparedStatement,
        params: dict[str, Any],
        begin: bool,
        commit: bool,
    ) -> Any:
        """``[BEGIN] Bind/Execute/Sync [COMMIT]`` written at once, flushed once, and the
        answers read in order (what ``PreparedStatement.run`` does, with the two queries)."""
        con = self._con
        values = make_params(con.py_types, statement.make_vals(params))
        if begin:
            con.send_QUERY("BEGIN")
        con.send_BIND(statement.name_bin, values)
        con.send_EXECUTE()
        _write(con._sock, SYNC_MSG)
        if commit:
            con.send_QUERY("COMMIT")
        _flush(con._sock)
        if begin:
            con.handle_messages(Context("BEGIN"))
        context = Context(
            statement.statement, columns=statement.cols, input_funcs=statement.input_funcs
        )
        try:
            con.handle_messages(context)
        except DatabaseError:
            if commit:  # read the COMMIT's answer (a rollback) so the connection stays in step
                with contextlib.suppress(DatabaseError, InterfaceError):
                    con.handle_messages(Context("COMMIT"))
            raise
        if commit:
            con.handle_messages(Context("COMMIT"))
        return context


class StatementCounter:
    """Counts the statements run through :class:`shared.db.Tx`, by SQL text. Thread-safe.

    Tests read :attr:`total` before and after one event to assert the statements it costs;
    ``BEGIN``/``COMMIT`` are not counted (every transaction has them).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_sql: Counter[str] = Counter()

    def add(self, sql: str) -> None:
        """Count one execution of ``sql``."""
        with self._lock:
            self.by_sql[sql] += 1

    @property
    def total(self) -> int:
        """Statements run so far."""
        with self._lock:
            return sum(self.by_sql.values())

    def snapshot(self) -> Counter[str]:
        """A copy of the counts by SQL text (subtract two snapshots for one event's)."""
        with self._lock:
            return Counter(self.by_sql)
