"""FakeGitHub's GraphQL read: the ``pullRequest.reviewThreads`` query of
:data:`shared.adapters.github.REVIEW_THREADS_QUERY`, with cursor pagination.

A pull request that does not exist answers 200 with ``data.repository.pullRequest: null`` and
an ``errors`` entry of type ``NOT_FOUND``, as GitHub does; bad variables and a ``first`` over
100 answer GraphQL errors with GitHub's messages.
"""

from __future__ import annotations

import base64
from typing import Any

import flask

from shared.local.fakes.base import FakeStore, json_answer


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _cursor_index(cursor: str | None) -> int | None:
    if cursor is None:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1]) + 1
    except (ValueError, IndexError, UnicodeDecodeError):
        return None


def _graphql_error(message: str, **extra: Any) -> flask.Response:
    return json_answer(200, {"errors": [{"message": message, **extra}]})


def review_threads(store: FakeStore, payload: Any, headers: dict[str, str]) -> flask.Response:
    """Answer a GraphQL ``payload`` (``{query, variables}``) for one PR's review threads."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return json_answer(
            400,
            {
                "message": "Problems parsing JSON",
                "documentation_url": "https://docs.github.com/graphql",
            },
            headers,
        )
    if "reviewThreads" not in payload["query"]:
        return _graphql_error("FakeGitHub only answers the pullRequest.reviewThreads query")
    variables = payload.get("variables") or {}
    for name, kind in (
        ("owner", "String!"),
        ("name", "String!"),
        ("number", "Int!"),
        ("first", "Int!"),
    ):
        if variables.get(name) is None:
            return _graphql_error(
                f"Variable ${name} of type {kind} was provided invalid value",
                locations=[{"line": 1, "column": 7}],
            )
    first = int(variables["first"])
    if not 1 <= first <= 100:
        return _graphql_error(
            f"Requesting {first} records on the `reviewThreads` connection "
            "exceeds the `first` limit of 100 records."
        )
    start = _cursor_index(variables.get("after"))
    if start is None:
        return _graphql_error(f"`{variables.get('after')}` does not appear to be a valid cursor.")
    key = f"{variables['owner']}/{variables['name']}#{variables['number']}"
    with store.lock:
        known = key in store.state["pulls"] or key in store.state["review_threads"]
        threads = list(store.state["review_threads"].get(key, []))
    if not known:
        return json_answer(
            200,
            {
                "data": {"repository": {"pullRequest": None}},
                "errors": [
                    {
                        "type": "NOT_FOUND",
                        "path": ["repository", "pullRequest"],
                        "locations": [{"line": 3, "column": 5}],
                        "message": "Could not resolve to a PullRequest with the number of "
                        f"{variables['number']}.",
                    }
                ],
            },
            headers,
        )
    nodes = threads[start : start + first]
    end = start + len(nodes) - 1
    page_info = {
        "hasNextPage": start + first < len(threads),
        "endCursor": _cursor(end) if nodes else None,
    }
    return json_answer(
        200,
        {
            "data": {
                "repository": {
                    "pullRequest": {
                        "reviewThreads": {
                            "totalCount": len(threads),
                            "pageInfo": page_info,
                            "nodes": nodes,
                        }
                    }
                }
            }
        },
        headers,
    )
