"""What a run spent upstream: the GitHub GraphQL rate-limit points of every read made for it
(``codex_judge.runs.github_graphql_points``, migration 0013; issue 12)."""

from __future__ import annotations

from shared.db import Tx

SQL_ADD_GRAPHQL_POINTS = """
UPDATE codex_judge.runs SET github_graphql_points = github_graphql_points + :points
WHERE id = :id
"""


def add_graphql_points(tx: Tx, run_id: int, points: int) -> None:
    """Add ``points`` (the sum of ``rateLimit.cost`` of the GraphQL answers read for run
    ``run_id``, ≥ 0) to the run's total; nothing is written for 0."""
    if points > 0:
        tx.run(SQL_ADD_GRAPHQL_POINTS, id=run_id, points=points)
