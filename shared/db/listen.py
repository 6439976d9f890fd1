"""LISTEN/NOTIFY: wait for a Postgres notification without polling a table.

A :class:`Listener` holds one connection of its own (outside the pool: it waits for minutes)
that has run ``LISTEN <channel>``. :meth:`Listener.wait` blocks on the connection's socket
(``select``) until the server sends something or the timeout passes, then runs an empty query so
pg8000 reads the pending ``NotificationResponse`` messages (PostgreSQL protocol §55.2.7, which a
client only sees while reading) and returns their payloads. A notification that pg8000 had
already buffered is returned on the next wait at the latest, so callers that re-read their table
after every wait (with or without payloads) never miss a row, and wait at most ``timeout_s``.
"""

from __future__ import annotations

import contextlib
import re
import select
import time
from types import TracebackType
from typing import Any

from shared.db.pool import Database, is_transient
from shared.errors import TransientError

_CHANNEL = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Listener:
    """``LISTEN channel`` on a dedicated connection of ``db``; use as a context manager.

    Raises:
        ValueError: ``channel`` is not a lower-case SQL identifier.
        TransientError: the database is unreachable (at open or while waiting).
    """

    def __init__(self, db: Database, channel: str) -> None:
        if not _CHANNEL.fullmatch(channel):
            raise ValueError(f"channel {channel!r} is not a lower-case SQL identifier")
        self._con: Any = db._connect()
        try:
            self._con.run(f"LISTEN {channel}")  # an identifier: checked above, not a parameter
        except Exception:
            self.close()
            raise

    def wait(self, timeout_s: float) -> list[str]:
        """Block until a notification arrives or ``timeout_s`` seconds pass; returns the
        payloads received (possibly none: a timeout, or a wake-up by other protocol traffic).

        Raises:
            TransientError: the connection broke.
        """
        sock = getattr(self._con, "_usock", None)
        try:
            if sock is not None:
                select.select([sock], [], [], timeout_s)
            else:  # a pg8000 without the socket attribute: a bounded nap instead
                time.sleep(min(timeout_s, 1.0))
            self._con.run("SELECT 1")
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, OSError):
                raise TransientError(f"database connection lost while listening: {exc}") from exc
            raise
        payloads = []
        while self._con.notifications:
            _pid, _channel, payload = self._con.notifications.popleft()
            payloads.append(str(payload))
        return payloads

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with contextlib.suppress(Exception):
            self._con.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
