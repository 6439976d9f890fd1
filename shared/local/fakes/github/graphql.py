"""FakeGitHub's GraphQL endpoint: the ``pullRequest.reviewThreads`` query of
:data:`shared.adapters.github.REVIEW_THREADS_QUERY`, with cursor pagination, and the
decision-point reads of :mod:`shared.local.fakes.github.graphql_reads`, chosen by the parsed
query's operation name (graphql-core); a query that does not parse answers GitHub's
``Parse error on ...`` and every non-null variable of the operation is checked as GitHub does.

A pull request that does not exist answers 200 with ``data.repository.pullRequest: null`` and
an ``errors`` entry of type ``NOT_FOUND``, as GitHub does; bad variables and a ``first`` over
100 answer GraphQL errors with GitHub's messages.
"""

from __future__ import annotations

import base64
from typing import Any

import flask
from graphql import GraphQLSyntaxError, NonNullTypeNode, OperationDefinitionNode, parse

from shared.local.fakes.base import FakeStore, json_answer
from shared.local.fakes.github.graphql_reads import CursorError, Reads

_READS = {"CommitChecks", "PullReviews", "PullLiveState"}


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


def answer(store: FakeStore, payload: Any, headers: dict[str, str]) -> flask.Response:
    """Answer a GraphQL ``payload`` (``{query, variables}``): parse it, check its variables,
    then answer the operation it names."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return json_answer(
            400,
            {
                "message": "Problems parsing JSON",
                "documentation_url": "https://docs.github.com/graphql",
            },
            headers,
        )
    try:
        document = parse(payload["query"])
    except GraphQLSyntaxError as exc:
        where = exc.locations[0] if exc.locations else None
        line, column = (where.line, where.column) if where else (1, 1)
        return _graphql_error(
            f"Parse error on {exc.message}", locations=[{"line": line, "column": column}]
        )
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].name is None:
        return _graphql_error("FakeGitHub answers one named operation per request")
    operation = operations[0]
    op_name = operation.name.value if operation.name else ""
    variables = payload.get("variables") or {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if isinstance(definition.type, NonNullTypeNode) and variables.get(name) is None:
            loc = (
                definition.loc.source.get_location(definition.loc.start) if definition.loc else None
            )
            kind = _type_text(definition.type)
            return _graphql_error(
                f"Variable ${name} of type {kind} was provided invalid value",
                locations=[{"line": loc.line if loc else 1, "column": loc.column if loc else 1}],
            )
    if op_name in _READS:
        return _read(store, op_name, variables, headers)
    return review_threads(store, payload, headers)


def _type_text(node: Any) -> str:
    if isinstance(node, NonNullTypeNode):
        return _type_text(node.type) + "!"
    return str(node.name.value)


def _not_found(number: Any, headers: dict[str, str]) -> flask.Response:
    return json_answer(
        200,
        {
            "data": {"repository": {"pullRequest": None}},
            "errors": [
                {
                    "type": "NOT_FOUND",
                    "path": ["repository", "pullRequest"],
                    "locations": [{"line": 3, "column": 5}],
                    "message": f"Could not resolve to a PullRequest with the number of {number}.",
                }
            ],
        },
        headers,
    )


def _read(
    store: FakeStore, operation: str, variables: dict[str, Any], headers: dict[str, str]
) -> flask.Response:
    key = f"{variables['owner']}/{variables['name']}#{variables.get('number')}"
    with store.lock:
        reads = Reads(store, variables)
        try:
            if operation == "CommitChecks":
                data = reads.commit_checks()
            elif key not in store.state["pulls"] and (
                operation == "PullLiveState" or key not in store.state["review_threads"]
            ):
                return _not_found(variables.get("number"), headers)
            elif operation == "PullReviews":
                data = reads.pull_reviews(key)
            else:
                data = reads.pull_live(key)
        except CursorError as exc:
            return _graphql_error(str(exc))
    return json_answer(200, {"data": data}, headers)


def review_threads(store: FakeStore, payload: Any, headers: dict[str, str]) -> flask.Response:
    """Answer the ``ReviewThreads`` query (``payload`` already parsed and checked)."""
    if "reviewThreads" not in payload["query"]:
        return _graphql_error("FakeGitHub does not answer this operation")
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
        return _not_found(variables["number"], headers)
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
