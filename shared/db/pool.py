"""A per-process pool of pg8000 connections with explicit transactions.

Failures that a retry can cure (connection refused or lost, admin shutdown, serialization
failure, deadlock, too many connections) become :class:`shared.errors.TransientError`, which the
runtime answers with 503 so Knative redelivers (DESIGN §6). Other database errors propagate.

Connections are kept and reused: a new pg8000 connection costs ~32 ms with its default SSL
handling, ~2.3 ms without (DESIGN §14), so the TLS context is built once per :class:`Database`
(see :mod:`shared.db.connect` for sslmode/sslrootcert). A TLS misconfiguration (certificate
that does not verify, missing CA file, server refusing TLS under ``sslmode=require``) is a
:class:`shared.errors.DatabaseConfigError` (HTTP 500, see :mod:`shared.errors`), never
transient: no retry can cure it.

A statement with parameters runs as a prepared statement cached per connection
(:mod:`shared.db.statements`: one round trip instead of three), and every statement run through
:class:`Tx` is counted in :attr:`Database.counter` (the statement-count tests read it).
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import weakref
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pg8000.native
from pg8000.converters import TIMESTAMPTZ, timestamptz_in
from pg8000.exceptions import DatabaseError, InterfaceError

from shared.db.connect import (
    TlsOptions,
    closed_by_server,
    connect_params,
    open_connection,
    parse_url,
)
from shared.db.statements import StatementCache, StatementCounter
from shared.errors import DatabaseConfigError, TransientError

__all__ = [
    "Database",
    "TlsOptions",
    "Tx",
    "UniqueViolation",
    "connect_params",
    "is_transient",
    "sqlstate",
    "transient_errors",
]

# SQLSTATE classes/codes that mean "try again": connection exceptions (08), operator
# intervention (57P01..57P03), insufficient resources (53), serialization failure and deadlock.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "40001", "40P01")
_FEATURE_NOT_SUPPORTED = "0A000"
_CACHED_PLAN = "cached plan must not change result type"


def _timestamptz_in(text: str) -> datetime | str:
    """A ``timestamptz`` as Postgres writes it (``2026-11-30 02:45:18.123456+00``, DateStyle
    ISO) through :meth:`datetime.fromisoformat`, the same aware datetime pg8000's ``strptime``
    reader makes at a fiftieth of its cost (a run row holds five); anything else
    (``infinity``, years past 9999, BC) as pg8000 reads it."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return timestamptz_in(text)  # type: ignore[no-any-return]


def is_transient(exc: BaseException) -> bool:
    """Whether a database exception is worth a retry (see module docstring)."""
    if isinstance(exc, InterfaceError | OSError | socket.timeout):
        return True
    if isinstance(exc, DatabaseError):
        code = _sqlstate(exc)
        if code == _FEATURE_NOT_SUPPORTED and _CACHED_PLAN in str(exc):
            return True  # a migration changed a prepared statement's result (statements.py)
        return code is not None and code.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    return False


@contextlib.contextmanager
def transient_errors() -> Iterator[None]:
    """Raise :class:`~shared.errors.TransientError` (``database unavailable: …``) for a driver
    error worth a retry (:func:`is_transient`) raised in the block; any other exception, our
    own errors included, propagates unchanged."""
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            raise TransientError(f"database unavailable: {exc}") from exc
        raise


def _sqlstate(exc: DatabaseError) -> str | None:
    if exc.args and isinstance(exc.args[0], dict):
        code = exc.args[0].get("C")
        return str(code) if code else None
    return None


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a pg8000 error, e.g. ``"23505"`` for a unique violation, else None."""
    return _sqlstate(exc) if isinstance(exc, DatabaseError) else None


#: SQLSTATE ``unique_violation`` (PostgreSQL "Appendix A. PostgreSQL Error Codes").
UNIQUE_VIOLATION = "23505"


class UniqueViolation(Exception):
    """A statement broke a unique constraint (SQLSTATE 23505); the transaction is aborted.

    Raised by :class:`Tx` in place of the driver's error, so no code outside ``shared.db``
    needs the driver to recognise it (e.g. to retry a race on a unique key).

    Attributes:
        constraint: the violated constraint's name, when the server said it.
    """

    def __init__(self, message: str, *, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint


def _unique_violation(exc: DatabaseError) -> UniqueViolation | None:
    """``exc`` as :class:`UniqueViolation` for SQLSTATE 23505, else None."""
    if _sqlstate(exc) != UNIQUE_VIOLATION:
        return None
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    constraint = fields.get("n")
    return UniqueViolation(
        str(fields.get("M") or exc),
        constraint=str(constraint) if constraint else None,
    )


class Tx:
    """One open transaction. Parameters are bound by name (``:name``), never formatted.

    A statement with parameters runs as a named prepared statement from the connection's
    :class:`~shared.db.statements.StatementCache` (Bind/Execute/Sync: one round trip once
    prepared); one without parameters goes through the simple query protocol (one round trip,
    and it may hold several statements, e.g. DDL). In a :meth:`Database.transaction`,
    ``BEGIN`` travels with the first statement and ``COMMIT`` with the one given to
    :meth:`at_commit`; a transaction that runs no statement sends neither.

    Raises (every statement):
        UniqueViolation: the statement broke a unique constraint (SQLSTATE 23505).
    """

    def __init__(
        self,
        con: pg8000.native.Connection,
        statements: StatementCache | None = None,
        counter: StatementCounter | None = None,
        *,
        begin: bool = False,
    ) -> None:
        self._con = con
        self._statements = statements if statements is not None else StatementCache(con)
        self._counter = counter
        self._columns: list[str] = []
        self._row_count = -1
        self._begin = begin  # BEGIN not sent yet: it goes with the first statement
        self._last: tuple[str, dict[str, Any]] | None = None

    def _open(self) -> None:
        """Send a pending ``BEGIN`` on its own (before a simple query or a savepoint)."""
        if self._begin:
            self._begin = False
            self._con.run("BEGIN")

    def _run(self, sql: str, params: dict[str, Any], commit: bool = False) -> list[list[Any]]:
        if self._counter is not None:
            self._counter.add(sql)
        try:
            if not params:
                self._open()
                rows = self._con.run(sql)
                self._columns = [c["name"] for c in (self._con.columns or [])]
                count = self._con.row_count
                if commit:
                    self._con.run("COMMIT")
            else:
                begin, self._begin = self._begin, False
                rows, self._columns, count = self._statements.execute(
                    sql, params, begin=begin, commit=commit
                )
        except DatabaseError as exc:
            unique = _unique_violation(exc)
            if unique is None:
                raise
            raise unique from exc
        self._row_count = int(count if count is not None else -1)
        return rows or []

    def at_commit(self, sql: str, **params: Any) -> None:
        """Run ``sql`` as the transaction's last statement, sent with its ``COMMIT`` in one
        round trip when the transaction ends; its error (e.g. :class:`UniqueViolation`) is
        raised then, and the transaction is rolled back. Replaces an earlier ``at_commit``."""
        self._last = (sql, params)

    def _commit(self) -> None:
        """End the transaction: the :meth:`at_commit` statement with ``COMMIT``, or
        ``COMMIT`` alone, or nothing when no statement was sent."""
        if self._last is not None:
            sql, params = self._last
            self._last = None
            self._run(sql, params, commit=True)
        elif not self._begin:
            self._con.run("COMMIT")

    def _rollback(self) -> None:
        """Roll the transaction back, if a statement started it."""
        self._last = None
        if not self._begin:
            self._con.run("ROLLBACK")

    def all(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Run ``sql`` and return every row as a dict keyed by column name."""
        rows = self._run(sql, params)
        cols = self._columns
        return [dict(zip(cols, row, strict=True)) for row in rows]

    def one(self, sql: str, **params: Any) -> dict[str, Any] | None:
        """Run ``sql`` and return the first row, or None."""
        rows = self.all(sql, **params)
        return rows[0] if rows else None

    def run(self, sql: str, **params: Any) -> int:
        """Run ``sql`` for its effect; returns the affected row count (-1 when unknown)."""
        self._run(sql, params)
        return self._row_count

    @contextlib.contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[None]:
        """A nested savepoint: on error only its work is rolled back, then the error re-raised."""
        self._open()
        self._con.run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._con.run(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        self._con.run(f"RELEASE SAVEPOINT {name}")


class Database:
    """A bounded pool of connections to one database. Thread-safe; one per process.

    Args:
        url: a ``postgresql://`` URL (see :func:`shared.db.connect.parse_url`).
        size: the most connections kept open at once.
        tls: sslmode/sslrootcert/sslcert/sslkey defaults; the URL's query string wins.
        host: replaces the URL's host (``db_host``), e.g. the PgBouncer Pooler service.
        gate: called with this database before :meth:`transaction` hands out a connection,
            until it returns once without raising (the schema check of a function process,
            :class:`shared.db.schema.SchemaGate`); :meth:`connection` is never gated, so
            migrations and admin work run on an old schema.

    A TLS setup that cannot work (a missing CA file, ``sslrootcert=system`` with a weak mode)
    does not fail construction: every connection attempt raises the same
    :class:`DatabaseConfigError`, so a function answers each request with it.
    """

    def __init__(
        self,
        url: str,
        *,
        size: int = 4,
        tls: TlsOptions | None = None,
        host: str | None = None,
        gate: Callable[[Database], None] | None = None,
    ) -> None:
        self.url = url
        self._spec = parse_url(url, tls=tls, host=host)
        self._config_error: DatabaseConfigError | None = None
        try:
            self._ssl_context = self._spec.context()
        except DatabaseConfigError as exc:
            self._ssl_context, self._config_error = None, exc
        self._gate = gate
        self._idle: queue.LifoQueue[pg8000.native.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._statements: weakref.WeakKeyDictionary[pg8000.native.Connection, StatementCache]
        self._statements = weakref.WeakKeyDictionary()
        #: Every statement :class:`Tx` runs on this pool, counted (tests and the bench read it).
        self.counter = StatementCounter()

    @property
    def sslmode(self) -> str:
        """The sslmode in force (``disable`` for a Unix socket)."""
        return self._spec.sslmode

    @property
    def where(self) -> str:
        """``host:port`` or the socket path, for messages."""
        return self._spec.where

    def _connect(self) -> pg8000.native.Connection:
        if self._config_error is not None:
            raise self._config_error
        with transient_errors():
            con = open_connection(self._spec, self._ssl_context, timeout=30)
        con.register_in_adapter(TIMESTAMPTZ, _timestamptz_in)
        return con

    def _cache(self, con: pg8000.native.Connection) -> StatementCache:
        """The prepared statements of ``con`` (created on its first transaction)."""
        cache = self._statements.get(con)
        if cache is None:
            cache = self._statements[con] = StatementCache(con)
        return cache

    def _idle_connection(self) -> pg8000.native.Connection | None:
        """The most recently used idle connection the server has not closed, or None."""
        while True:
            try:
                con = self._idle.get_nowait()
            except queue.Empty:
                return None
            if not closed_by_server(con):
                return con
            with contextlib.suppress(Exception):
                con.close()

    @contextlib.contextmanager
    def connection(self) -> Iterator[pg8000.native.Connection]:
        """Borrow a connection (idle ones the server closed are discarded first, see
        :func:`closed_by_server`); a broken one is discarded instead of returned."""
        if not self._slots.acquire(timeout=30):
            raise TransientError("database pool exhausted")
        con: pg8000.native.Connection | None = None
        try:
            con = self._idle_connection() or self._connect()
            yield con
        except BaseException:
            if con is not None:
                with contextlib.suppress(Exception):
                    con.close()
                con = None
            raise
        finally:
            if con is not None:
                self._idle.put(con)
            self._slots.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """``BEGIN`` … ``COMMIT``; rolls back and re-raises on any error. ``BEGIN`` is sent
        with the first statement, ``COMMIT`` with the :meth:`Tx.at_commit` statement (see
        :class:`Tx`).

        Raises:
            TransientError: the database is unreachable, or the error is worth a retry
                (:class:`~shared.errors.SchemaBehindError` from the gate included).
            DatabaseConfigError: TLS to the database cannot work as configured.
        """
        gate = self._gate
        if gate is not None:
            gate(self)
            self._gate = None  # only a success is cached: a raising gate runs again next time
        with transient_errors(), self.connection() as con:
            tx = Tx(con, self._cache(con), self.counter, begin=True)
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(Exception):
                    tx._rollback()
                raise
            tx._commit()

    def statement(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Run one statement in a transaction of its own (autocommit: no ``BEGIN``/``COMMIT``
        exchanges, one round trip once prepared) and return its rows.

        For work that is one statement and must not wait for, or roll back with, the caller's
        transaction (a cache write). The schema gate is not consulted.

        Raises:
            TransientError: the database is unreachable or the error is worth a retry.
            UniqueViolation: the statement broke a unique constraint.
        """
        with transient_errors(), self.connection() as con:
            return Tx(con, self._cache(con), self.counter).all(sql, **params)

    def close(self) -> None:
        """Close every idle connection."""
        while True:
            try:
                con = self._idle.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(Exception):
                con.close()
