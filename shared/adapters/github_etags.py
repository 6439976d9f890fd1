"""The ETag cache for GitHub polling reads, kept in Postgres so functions stay stateless.

GitHub REST ("Best practices for using the REST API", "Rate limits"): a GET answer carries an
``ETag`` (and often ``Last-Modified``); sending it back as ``If-None-Match``
(``If-Modified-Since``) gets ``304 Not Modified`` with no body when nothing changed, and a 304
does not count against the primary rate limit. The cache keeps, per (request URL with its
query, credential fingerprint), the validators, the JSON body text and the ``Link`` header
(pagination must survive a 304: the page's next link comes from the cached answer).

Every read and write is its own short transaction on the process pool, not the use case's
transaction: a cached answer is a fact about GitHub, valid whether or not the use case commits.
A cache failure never fails a request: the read simply goes out unconditionally.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from shared.db import Database

log = logging.getLogger("codex_judge.github_etags")

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
            with self._db.transaction() as tx:
                row = tx.one(SQL_GET, url=url, credential=credential)
        except Exception:
            log.warning("etag cache unreadable; reading unconditionally", exc_info=True)
            return None
        if row is None:
            return None
        return CachedAnswer(row["etag"], row["last_modified"], row["link"], row["body"])

    def put(self, url: str, credential: str, answer: CachedAnswer) -> None:
        """Store the answer; a failure is logged and ignored (the next read is unconditional)."""
        try:
            with self._db.transaction() as tx:
                tx.run(
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
