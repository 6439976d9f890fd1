"""Have Postgres close connections as a restart or a failover does."""

from __future__ import annotations

import time

from shared.db import Database

SQL_IDLE = """
SELECT pid FROM pg_stat_activity
 WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'
   AND backend_type = 'client backend'
"""
SQL_TERMINATE = "SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"
SQL_LEFT = "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY(CAST(:pids AS int[]))"


def terminate_idle_backends(url: str, timeout_s: float = 10.0) -> list[int]:
    """Terminate every idle client connection to ``url``'s database but our own
    (``pg_terminate_backend``: the server sends ``FATAL 57P01`` and closes, as on a restart),
    wait until their backends are gone, and return their pids.

    Raises:
        TimeoutError: a backend outlived ``timeout_s`` seconds.
    """
    admin = Database(url, size=1)
    try:
        with admin.transaction() as tx:
            pids = [int(r["pid"]) for r in tx.all(SQL_IDLE)]
            tx.run(SQL_TERMINATE, pids=pids)
        deadline = time.monotonic() + timeout_s
        while True:
            with admin.transaction() as tx:
                row = tx.one(SQL_LEFT, pids=pids)
            if row is None or int(row["n"]) == 0:
                return pids
            if time.monotonic() > deadline:
                raise TimeoutError(f"backends {pids} still running after {timeout_s} s")
            time.sleep(0.02)
    finally:
        admin.close()
