"""Prepared statements cached per connection (issue 12: three round trips per statement become
one): each SQL text is parsed once per connection, the cache is bounded, results, row counts
and unique violations are what the unprepared path gave, and a migration that changes a cached
statement's result is a transient error the next delivery survives."""

from __future__ import annotations

from typing import Any

import pytest

from shared.db import Database, UniqueViolation
from shared.db.statements import StatementCache
from shared.errors import TransientError

SQL_PREPARED = "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = :text"
SQL_PUT = """
INSERT INTO codex_judge.policies (repository, document) VALUES (:repository, CAST(:policy AS jsonb))
"""
SQL_GET = "SELECT repository, document FROM codex_judge.policies WHERE repository = :repository"


def _prepared_count(db: Database, text: str) -> int:
    with db.transaction() as tx:
        row = tx.one(SQL_PREPARED, text=text)
    assert row is not None
    return int(row["n"])


def test_a_statement_is_parsed_once_per_connection(database_url: str) -> None:
    db = Database(database_url, size=1)
    try:
        for i in range(5):
            with db.transaction() as tx:
                assert tx.run(SQL_PUT, repository=f"o/r{i}", policy="{}") == 1
                assert tx.one(SQL_GET, repository=f"o/r{i}") == {
                    "repository": f"o/r{i}",
                    "document": {},
                }
        # pg8000 sends the text with $n placeholders; one server-side statement per SQL text.
        with db.transaction() as tx:
            rows = tx.all(
                "SELECT statement FROM pg_prepared_statements WHERE statement LIKE :p",
                p="%codex_judge.policies%",
            )
        assert len(rows) == 2
        assert db.counter.by_sql[SQL_PUT] == 5 and db.counter.by_sql[SQL_GET] == 5
    finally:
        db.close()


def test_the_cache_is_bounded_and_closes_what_it_drops(database_url: str) -> None:
    db = Database(database_url, size=1)
    try:
        with db.connection() as con:
            cache = StatementCache(con, size=3)
            for i in range(6):
                cache.execute(f"SELECT :x::int + {i} AS y", {"x": 1})
            assert len(cache) == 3
            rows = con.run("SELECT count(*) FROM pg_prepared_statements")
            assert rows[0][0] == 3
            assert cache.execute("SELECT :x::int + 5 AS y", {"x": 2}) == ([[7]], ["y"], 1)
    finally:
        db.close()


def test_a_unique_violation_and_the_row_count_survive_preparing(database_url: str) -> None:
    db = Database(database_url, size=1)
    try:
        with db.transaction() as tx:
            tx.run(SQL_PUT, repository="o/r", policy="{}")
        with pytest.raises(UniqueViolation), db.transaction() as tx:
            tx.run(SQL_PUT, repository="o/r", policy="{}")
        with db.transaction() as tx:
            updated = tx.run(
                "UPDATE codex_judge.policies SET document = CAST(:p AS jsonb)"
                " WHERE repository LIKE :prefix",
                p='{"a": 1}',
                prefix="o/%",
            )
        assert updated == 1
    finally:
        db.close()


def test_a_changed_result_type_is_transient_and_the_retry_prepares_again(
    database_url: str,
) -> None:
    db = Database(database_url, size=1)
    sql = "SELECT * FROM codex_judge.policies WHERE repository = :repository"
    try:
        with db.transaction() as tx:
            tx.run(SQL_PUT, repository="o/r", policy="{}")
            assert tx.one(sql, repository="o/r") is not None
        with db.transaction() as tx:  # a migration, on the same pool here
            tx.run("ALTER TABLE codex_judge.policies ADD COLUMN extra text")
        with pytest.raises(TransientError), db.transaction() as tx:
            tx.one(sql, repository="o/r")
        with db.transaction() as tx:  # the redelivery: a new connection, prepared afresh
            row = tx.one(sql, repository="o/r")
        assert row is not None and row["extra"] is None
    finally:
        db.close()


class _Flushes:
    """The connection's socket with its flushes counted: one per round trip."""

    def __init__(self, sock: Any) -> None:
        self._sock, self.count = sock, 0

    def flush(self) -> None:
        self.count += 1
        self._sock.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def test_begin_and_commit_travel_with_the_first_and_last_statements(database_url: str) -> None:
    db = Database(database_url, size=1)
    try:
        for i in range(2):  # the second time, both statements are prepared
            with db.connection() as con:
                flushes = con._sock = _Flushes(con._sock)
            with db.transaction() as tx:
                tx.run(SQL_PUT, repository=f"o/r{i}", policy="{}")
                tx.at_commit(SQL_PUT, repository=f"o/s{i}", policy="{}")
            with db.transaction():
                pass  # no statement: nothing sent
            with db.connection() as con:
                con._sock = flushes._sock
        assert flushes.count == 2
        with db.transaction() as tx:
            rows = tx.all("SELECT repository FROM codex_judge.policies ORDER BY repository")
        assert [r["repository"] for r in rows] == ["o/r0", "o/r1", "o/s0", "o/s1"]
    finally:
        db.close()


def test_a_failing_last_statement_rolls_the_transaction_back(database_url: str) -> None:
    db = Database(database_url, size=1)
    try:
        with db.transaction() as tx:
            tx.run(SQL_PUT, repository="o/taken", policy="{}")
        with pytest.raises(UniqueViolation), db.transaction() as tx:
            tx.run(SQL_PUT, repository="o/lost", policy="{}")
            tx.at_commit(SQL_PUT, repository="o/taken", policy="{}")
        with db.transaction() as tx:
            with tx.savepoint():  # a savepoint first: BEGIN is sent before it
                tx.run(SQL_PUT, repository="o/kept", policy="{}")
            rows = tx.all("SELECT repository FROM codex_judge.policies ORDER BY repository")
        assert [r["repository"] for r in rows] == ["o/kept", "o/taken"]
    finally:
        db.close()
