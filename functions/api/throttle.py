"""Failed sign-ins counted per client address and fixed window, in Postgres (the api's processes
are stateless and scale out; ``runtime.auth_failures``, migration 0016, is their shared count).

Two scopes:

* ``login`` — the UI's login form. A client address with ``api_login_max_failures`` failures in
  the current window of ``api_auth_window_s`` seconds is answered 429 with ``Retry-After`` (the
  seconds left in the window, RFC 9110 §10.2.3) before its token is even looked at, so a
  guessing client learns nothing more until the window ends.
* ``bearer`` — a wrong ``Authorization: Bearer`` token on the JSON api. Each one is counted;
  past ``api_bearer_max_failures`` in the window the answer is 429 with ``Retry-After`` instead
  of 401. A right token is still accepted (the request path stays free of an extra statement;
  the tokens are long random secrets, so the limit bounds the noise and the rows a guessing
  client costs, not the odds of a guess).

The client address is the TCP peer, or behind ``api_proxy_hops`` trusted proxies the address
that many entries from the right of ``X-Forwarded-For`` (what those proxies appended; what a
client wrote itself is further left and ignored). Only the address and a count are stored:
never a token, and nothing here logs one. Windows older than a day are deleted by the
scheduler's retention batches (:mod:`functions.scheduler.retention`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import flask

from shared.db import Tx
from shared.settings import Settings

Scope = Literal["login", "bearer"]
MAX_CLIENT = 100

_WINDOW = "to_timestamp(floor(extract(epoch FROM now()) / :window_s) * :window_s)"
SQL_COUNT = f"""
SELECT failures,
       ceil(extract(epoch FROM window_start + make_interval(secs => :window_s) - now()))
         AS retry_after_s
FROM runtime.auth_failures
WHERE scope = :scope AND client = :client AND window_start = {_WINDOW}
"""
SQL_FAIL = f"""
INSERT INTO runtime.auth_failures AS f (scope, client, window_start, failures)
VALUES (:scope, :client, {_WINDOW}, 1)
ON CONFLICT (scope, client, window_start) DO UPDATE SET failures = f.failures + 1
RETURNING failures,
          ceil(extract(epoch FROM window_start + make_interval(secs => :window_s) - now()))
            AS retry_after_s
"""


def client_address(request: flask.Request, hops: int) -> str:
    """The address failures are counted under (see the module docstring); at most 100
    characters; ``unknown`` when the server saw none."""
    peer = request.remote_addr or "unknown"
    if hops > 0:
        forwarded = [
            a.strip()
            for header in request.headers.getlist("X-Forwarded-For")
            for a in header.split(",")
            if a.strip()
        ]
        if len(forwarded) >= hops:
            peer = forwarded[-hops]
    return peer[:MAX_CLIENT]


@dataclass(frozen=True)
class Throttle:
    """The failure limit of one scope: ``limit`` failures per ``window_s`` seconds."""

    scope: Scope
    limit: int
    window_s: int

    @classmethod
    def from_settings(cls, settings: Settings, scope: Scope) -> Throttle:
        """The ``login`` or ``bearer`` limit of ``settings``."""
        limit = (
            settings.api_login_max_failures
            if scope == "login"
            else settings.api_bearer_max_failures
        )
        return cls(scope=scope, limit=limit, window_s=settings.api_auth_window_s)

    def blocked(self, tx: Tx, client: str) -> int | None:
        """Seconds until ``client`` may try again (>= 1), or None while under the limit."""
        row = tx.one(SQL_COUNT, scope=self.scope, client=client, window_s=self.window_s)
        if row is None or int(row["failures"]) < self.limit:
            return None
        return max(1, int(row["retry_after_s"]))

    def fail(self, tx: Tx, client: str) -> int | None:
        """Count one failure of ``client``; the seconds to wait when it is now past the limit
        (the failures beyond ``limit``), else None."""
        row = tx.one(SQL_FAIL, scope=self.scope, client=client, window_s=self.window_s)
        assert row is not None  # INSERT … RETURNING always answers a row
        if int(row["failures"]) <= self.limit:
            return None
        return max(1, int(row["retry_after_s"]))
