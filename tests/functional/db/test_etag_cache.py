"""The ETag cache costs one statement per read and per write, outside any transaction, and
keeps no body over its cap (issue 12)."""

from __future__ import annotations

from shared.adapters.github_etags import MAX_BODY_CHARS, CachedAnswer, PostgresEtagCache
from shared.db import Database

URL = "https://api.github.com/repos/o/r/commits/abc/check-runs?per_page=100"


def test_one_statement_per_read_and_write_and_no_body_over_the_cap(db: Database) -> None:
    cache = PostgresEtagCache(db)
    answer = CachedAnswer(etag='W/"1"', last_modified=None, link=None, body='{"total_count": 0}')
    before = db.counter.total
    cache.put(URL, "cred", answer)
    assert cache.get(URL, "cred") == answer
    assert db.counter.total - before == 2
    with db.transaction() as tx:
        row = tx.one(
            "SELECT relpersistence FROM pg_class WHERE oid = CAST('github.etag_cache' AS regclass)"
        )
    assert row == {"relpersistence": "u"}  # unlogged: no WAL fsync per write

    big = CachedAnswer(etag='W/"2"', last_modified=None, link=None, body="x" * (MAX_BODY_CHARS + 1))
    cache.put(URL + "&page=2", "cred", big)
    assert cache.get(URL + "&page=2", "cred") is None
    assert cache.get(URL, "cred") == answer  # the earlier entry is untouched
