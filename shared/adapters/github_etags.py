"""The ETag cache for GitHub polling reads, kept in Postgres so functions stay stateless.

GitHub REST ("Best practices for using the REST API", "Rate limits"): a GET answer carries an
``ETag`` (and often ``Last-Modified``); sending it back as ``If-None-Match``
(``If-Modified-Since``) gets ``304 Not Modified`` with no body when nothing changed, and a 304
does not count against the primary rate limit. The cache keeps, per (request URL with its
query, credential fingerprint), the validators, the JSON body text and the ``Link`` header
(pagination must survive a 304: the page's next link comes from the cached answer).

Every read and every write is **one statement** on the process pool, in a transaction of its
own (autocommit, :meth:`shared.db.Database.statement`: one round trip once prepared, no
``BEGIN``/``COMMIT``), not in the use case's transaction: a cached answer is a fact about GitHub,
valid whether or not the use case commits, and the write is an upsert that locks only its own
row (the last step of the lock order in :mod:`shared.runs.locks`). The table is ``UNLOGGED``
(migration 0014): a write costs no WAL fsync, and a crash or a failover empties the cache,
which only costs unconditional reads. A body longer than :data:`MAX_BODY_CHARS` is not stored
(the next read is unconditional); the scheduler's retention drops entries not refreshed for a
while (:mod:`shared.retention`). A cache failure never fails a request: the read simply goes
out unconditionally.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from shared.db import Database

log = logging.getLogger("codex_judge.github_etags")

#: The longest body stored, in characters (a larger answer is read unconditionally next time).
MAX_BODY_CHARS = 4 * 1024 * 1024  # a page of 100 check runs is ~0.6 MB

SQL_GET = """
SELECT etag, last_modified, link, body FROM github.etag_cache
WHERE url = :url AND credential = :credential
"""
SQL_PUT = """
INSERT INTO github.etag_cache (url, credential, etag, last_modified, link, body)
VALUES (:url, :credential, :etag, :last_modified, :link, :body)
ON CONFLICT (url, credential) DO UPDATE SET
    etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, link = EXCLUDED.link,
    body = EXCLUDED.body, stored_at = now()
"""


@dataclass(frozen=True)
class CachedAnswer:
    """One cached GET answer: validators, the ``Link`` header and the body text (JSON)."""

    etag: str | None
    last_modified: str | None
    link: str | None
    body: str


class EtagCache(Protocol):
    """Where conditional-request validators and bodies are kept."""

    def get(self, url: str, credential: str) -> CachedAnswer | None:
        """The cached answer for ``url`` read with ``credential``, or None."""

    def put(self, url: str, credential: str, answer: CachedAnswer) -> None:
        """Store (or replace) the answer for ``url``."""


class PostgresEtagCache:
    """:class:`EtagCache` over ``github.etag_cache`` (migration 0002).

    Args:
        db: the process's database pool.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, url: str, credential: str) -> CachedAnswer | None:
        """The cached answer, or None (also when the database cannot be read)."""
        try:
            rows = self._db.statement(SQL_GET, url=url, credential=credential)
        except Exception:
            log.warning("etag cache unreadable; reading unconditionally", exc_info=True)
            return None
        if not rows:
            return None
        row = rows[0]
        return CachedAnswer(row["etag"], row["last_modified"], row["link"], row["body"])

    def put(self, url: str, credential: str, answer: CachedAnswer) -> None:
        """Store the answer unless its body exceeds :data:`MAX_BODY_CHARS`; a failure is logged
        and ignored (the next read is unconditional)."""
        if len(answer.body) > MAX_BODY_CHARS:
            log.debug("etag cache: %s body of %d chars not stored", url, len(answer.body))
            return
        try:
            self._db.statement(
                SQL_PUT,
                url=url,
                credential=credential,
                etag=answer.etag,
                last_modified=answer.last_modified,
                link=answer.link,
                body=answer.body,
            )
        except Exception:
            log.warning("etag cache not written", exc_info=True)
