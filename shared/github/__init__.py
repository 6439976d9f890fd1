"""GitHub state in Postgres: webhook payloads and REST/GraphQL reads folded into the ``github``
tables (DESIGN §5).

Every write keeps the **newest by GitHub's own timestamp**, never the last write, so a late or
reordered delivery cannot roll state back. One module per table family, each the only writer of
its tables:

* :mod:`shared.github.pulls`: ``pr_state``;
* :mod:`shared.github.checks`: ``check_state`` (check runs and commit statuses) and
  ``check_suites``;
* :mod:`shared.github.reviews`: ``review_state``, ``review_threads`` and ``comments``;
* :mod:`shared.github.dispatch`: one webhook delivery routed by its ``X-GitHub-Event`` to the
  modules above.
"""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    """``value`` as ISO 8601 for a ``CAST(:x AS timestamptz)`` parameter; None stays None."""
    return value.isoformat() if value is not None else None
