"""FakeGitHub: the REST and GraphQL endpoints codex-judge reads, served from a JSON state.

State (``GET``/``PUT /_fake/state``)::

    {"pulls":          {"owner/repo#12": <REST pull object>},
     "pull_files":     {"owner/repo#12": [<REST file object>]},
     "check_runs":     {"owner/repo@<sha>": [<REST check-run object>]},
     "statuses":       {"owner/repo@<sha>": [<REST status object>]},
     "reviews":        {"owner/repo#12": [<REST review object>]},
     "review_threads": {"owner/repo#12": [<GraphQL PullRequestReviewThread node>]},
     "comments":       {"owner/repo#12": [<REST issue comment object>]},
     "check_suites":   {"owner/repo@<sha>": [<REST check-suite object>]},
     "compare":        {"owner/repo@<base>...<head>": <REST comparison object>},
     "rerequested":    [{"repository", "suite_id"}],   # appended by POST …/rerequest
     "errors":         [{"status": int, "path": "<substring>", "body": {...}}],  # one-shot
     "stats":          {"not_modified": int},
     "rate_limit":     {"remaining": null|int, "reset": <epoch s>, "secondary_next": int,
                        "secondary_retry_after": int}}

Wire behaviour copied from GitHub's REST docs ("Using pagination", "Rate limits for the REST
API", "Resources in the REST API"): lists take ``per_page`` (default 30, max 100) and ``page``
and answer a ``Link`` header with ``rel="next"``/``"last"`` (and ``"prev"``/``"first"`` after
page 1); every answer carries ``x-ratelimit-limit/remaining/reset/used/resource``; the primary
limit answers 403 with ``x-ratelimit-remaining: 0``; a secondary limit answers 403 with
``retry-after``; a missing object answers 404 ``{"message": "Not Found", ...}``. GraphQL answers
the query in :data:`shared.adapters.github.REVIEW_THREADS_QUERY` with cursor pagination; a pull
request that does not exist answers 200 with ``data.repository.pullRequest: null`` and an
``errors`` entry of type ``NOT_FOUND``, as GitHub does. The fake starts empty.

Conditional requests ("Best practices for using the REST API"): every 200 answer to a GET
carries an ``ETag`` (a hash of its body); a GET whose ``If-None-Match`` equals it answers
``304 Not Modified`` with no body, and the request is given back to the primary rate limit
(GitHub does not count a 304); ``stats.not_modified`` counts them. Check suites are listed per
commit; ``POST /repos/{o}/{r}/check-suites/{id}/rerequest`` answers 201 and records the suite
in ``rerequested`` (its runs are then the test's to replace, as the app would); ``GET
/repos/{o}/{r}/compare/{base}...{head}`` answers the seeded comparison (404 when none);
``POST /app/installations/{id}/access_tokens`` mints an installation token for a request
bearing an App JWT (decoded, not verified: the fake holds no public key). An entry of
``errors`` whose ``path`` is in the request path answers once with its status and body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import flask

from shared.local.fakes.base import FakeStore, create_fake_app, json_answer
from shared.local.fakes.github_diff import diff_answer, wants_diff
from shared.local.fakes.github_writes import install_write_routes

DOCS = "https://docs.github.com/rest"
RATE_LIMIT_TOTAL = 5000

DEFAULT_STATE: dict[str, Any] = {
    "pulls": {},
    "pull_files": {},
    "check_runs": {},
    "statuses": {},
    "reviews": {},
    "review_threads": {},
    "comments": {},
    "check_suites": {},
    "compare": {},
    "rerequested": [],
    "errors": [],
    "stats": {"not_modified": 0},
    "rate_limit": {
        "remaining": None,
        "reset": None,
        "secondary_next": 0,
        "secondary_retry_after": 60,
    },
}


def _rate_headers(limits: dict[str, Any], resource: str) -> dict[str, str]:
    remaining = limits.get("remaining")
    remaining = RATE_LIMIT_TOTAL if remaining is None else int(remaining)
    reset = limits.get("reset") or int(time.time()) + 3600
    return {
        "x-ratelimit-limit": str(RATE_LIMIT_TOTAL),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(reset)),
        "x-ratelimit-used": str(RATE_LIMIT_TOTAL - remaining),
        "x-ratelimit-resource": resource,
    }


def _spend(store: FakeStore, resource: str) -> tuple[flask.Response | None, dict[str, str]]:
    """Count one request against the limits; a 403 answer when a limit is hit."""
    with store.lock:
        limits = store.state.setdefault("rate_limit", {})
        if int(limits.get("secondary_next") or 0) > 0:
            limits["secondary_next"] = int(limits["secondary_next"]) - 1
            headers = _rate_headers(limits, resource)
            headers["retry-after"] = str(int(limits.get("secondary_retry_after") or 60))
            return json_answer(
                403,
                {
                    "message": "You have exceeded a secondary rate limit. Please wait a few "
                    "minutes before you try again.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                },
                headers,
            ), headers
        remaining = limits.get("remaining")
        if remaining is not None and int(remaining) <= 0:
            headers = _rate_headers(limits, resource)
            return json_answer(
                403,
                {
                    "message": "API rate limit exceeded for installation.",
                    "documentation_url": f"{DOCS}/overview/rate-limits-for-the-rest-api",
                },
                headers,
            ), headers
        if remaining is not None:
            limits["remaining"] = int(remaining) - 1
        return None, _rate_headers(limits, resource)


def _not_found(headers: Mapping[str, str]) -> flask.Response:
    return json_answer(404, {"message": "Not Found", "documentation_url": DOCS}, headers)


def _page(items: list[Any], headers: dict[str, str]) -> tuple[list[Any], dict[str, str]]:
    """Slice ``items`` by ``per_page``/``page`` and add GitHub's ``Link`` header."""
    args = flask.request.args
    try:
        per_page = max(1, min(100, int(args.get("per_page", 30))))
        page = max(1, int(args.get("page", 1)))
    except ValueError:
        per_page, page = 30, 1
    last = max(1, -(-len(items) // per_page))

    def link(number: int, rel: str) -> str:
        query = {**args.to_dict(flat=True), "per_page": str(per_page), "page": str(number)}
        return f'<{flask.request.base_url}?{urlencode(query)}>; rel="{rel}"'

    links = []
    if page > 1:
        links += [link(page - 1, "prev")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first")]
    out = dict(headers)
    if links:
        out["Link"] = ", ".join(links)
    return items[(page - 1) * per_page : page * per_page], out


def _counted_listing(store: FakeStore, state_key: str, key: str) -> flask.Response:
    """A ``{total_count, <state_key>: [page]}`` list, as GitHub answers for check runs and
    check suites."""
    refused, headers = _spend(store, "core")
    if refused is not None:
        return refused
    with store.lock:
        items = list(store.state[state_key].get(key, []))
    page, headers = _page(items, headers)
    return json_answer(200, {"total_count": len(items), state_key: page}, headers)


def _combined_state(statuses: list[dict[str, Any]]) -> str:
    """GitHub's rule: failure if any error/failure, pending if any pending or none, else success."""
    states = {s.get("state") for s in statuses}
    if states & {"error", "failure"}:
        return "failure"
    if not statuses or "pending" in states:
        return "pending"
    return "success"


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


def _review_threads(store: FakeStore, payload: Any, headers: dict[str, str]) -> flask.Response:
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


def create_app(initial_state: dict[str, Any] | None = None) -> flask.Flask:
    """A FakeGitHub app starting from ``initial_state`` (the format in the module docstring)."""
    app, store = create_fake_app("fake_github", DEFAULT_STATE, initial_state)

    def listing(section: str, key: str) -> flask.Response:
        refused, headers = _spend(store, "core")
        if refused is not None:
            return refused
        with store.lock:
            items = store.state[section].get(key)
            pr_known = "#" not in key or key in store.state["pulls"]
        if items is None and not pr_known:
            return _not_found(headers)
        page, headers = _page(list(items or []), headers)
        return json_answer(200, page, headers)

    @app.get("/repos/<owner>/<repo>/pulls/<int:number>")
    def get_pull(owner: str, repo: str, number: int) -> flask.Response:
        refused, headers = _spend(store, "core")
        if refused is not None:
            return refused
        with store.lock:
            pull = store.state["pulls"].get(f"{owner}/{repo}#{number}")
            if pull is not None and wants_diff(flask.request):
                return diff_answer(store.state, f"{owner}/{repo}#{number}", headers)
        return _not_found(headers) if pull is None else json_answer(200, pull, headers)

    @app.get("/repos/<owner>/<repo>/pulls/<int:number>/files")
    def list_pull_files(owner: str, repo: str, number: int) -> flask.Response:
        return listing("pull_files", f"{owner}/{repo}#{number}")

    @app.get("/repos/<owner>/<repo>/pulls/<int:number>/reviews")
    def list_reviews(owner: str, repo: str, number: int) -> flask.Response:
        return listing("reviews", f"{owner}/{repo}#{number}")

    @app.get("/repos/<owner>/<repo>/issues/<int:number>/comments")
    def list_issue_comments(owner: str, repo: str, number: int) -> flask.Response:
        return listing("comments", f"{owner}/{repo}#{number}")

    @app.get("/repos/<owner>/<repo>/commits/<sha>/check-runs")
    def list_check_runs(owner: str, repo: str, sha: str) -> flask.Response:
        return _counted_listing(store, "check_runs", f"{owner}/{repo}@{sha}")

    @app.get("/repos/<owner>/<repo>/commits/<sha>/status")
    def combined_status(owner: str, repo: str, sha: str) -> flask.Response:
        refused, headers = _spend(store, "core")
        if refused is not None:
            return refused
        with store.lock:
            statuses = list(store.state["statuses"].get(f"{owner}/{repo}@{sha}", []))
        page, headers = _page(statuses, headers)
        return json_answer(
            200,
            {
                "state": _combined_state(statuses),
                "sha": sha,
                "total_count": len(statuses),
                "statuses": page,
            },
            headers,
        )

    @app.post("/graphql")
    def graphql() -> flask.Response:
        refused, headers = _spend(store, "graphql")
        if refused is not None:
            return refused
        return _review_threads(store, flask.request.get_json(silent=True), headers)

    install_write_routes(app, store)
    _install_ci_routes(app, store)
    return app


def _install_ci_routes(app: flask.Flask, store: FakeStore) -> None:
    """Check suites, rerequest, compare, App tokens, injected errors and ETag/304."""

    @app.before_request
    def _injected_error() -> flask.Response | None:
        path = flask.request.path
        if path.startswith("/_fake/"):
            return None
        with store.lock:
            errors = store.state.setdefault("errors", [])
            for index, error in enumerate(errors):
                if str(error.get("path") or "") in path:
                    errors.pop(index)
                    return json_answer(
                        int(error.get("status") or 502),
                        error.get("body") or {"message": "Server Error"},
                    )
        return None

    @app.after_request
    def _etag(resp: flask.Response) -> flask.Response:
        request = flask.request
        if request.method != "GET" or resp.status_code != 200 or request.path.startswith("/_"):
            return resp
        etag = 'W/"' + hashlib.sha256(resp.get_data()).hexdigest()[:40] + '"'
        resp.headers["ETag"] = etag
        if request.headers.get("If-None-Match") != etag:
            return resp
        with store.lock:
            limits = store.state.setdefault("rate_limit", {})
            if limits.get("remaining") is not None:
                limits["remaining"] = int(limits["remaining"]) + 1  # a 304 costs nothing
            stats = store.state.setdefault("stats", {})
            stats["not_modified"] = int(stats.get("not_modified") or 0) + 1
            headers = _rate_headers(limits, "core")
        return flask.Response(b"", status=304, headers={**headers, "ETag": etag})

    @app.get("/repos/<owner>/<repo>/commits/<sha>/check-suites")
    def list_check_suites(owner: str, repo: str, sha: str) -> flask.Response:
        return _counted_listing(store, "check_suites", f"{owner}/{repo}@{sha}")

    @app.post("/repos/<owner>/<repo>/check-suites/<int:suite_id>/rerequest")
    def rerequest_check_suite(owner: str, repo: str, suite_id: int) -> flask.Response:
        refused, headers = _spend(store, "core")
        if refused is not None:
            return refused
        full = f"{owner}/{repo}"
        with store.lock:
            for key, suites in store.state["check_suites"].items():
                if not key.startswith(f"{full}@"):
                    continue
                for suite in suites:
                    if suite.get("id") == suite_id:
                        suite.update(status="queued", conclusion=None)
                        store.state["rerequested"].append(
                            {"repository": full, "suite_id": suite_id}
                        )
                        return flask.Response(b"", status=201, headers=headers)
        return _not_found(headers)

    @app.get("/repos/<owner>/<repo>/compare/<path:basehead>")
    def compare(owner: str, repo: str, basehead: str) -> flask.Response:
        refused, headers = _spend(store, "core")
        if refused is not None:
            return refused
        with store.lock:
            body = store.state["compare"].get(f"{owner}/{repo}@{basehead}")
        return _not_found(headers) if body is None else json_answer(200, body, headers)

    @app.post("/app/installations/<int:installation_id>/access_tokens")
    def access_token(installation_id: int) -> flask.Response:
        auth = flask.request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip()
        parts = token.split(".")
        if len(parts) != 3:
            return json_answer(
                401,
                {"message": "A JSON web token could not be decoded", "documentation_url": DOCS},
            )
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        minted = hashlib.sha256(f"{claims.get('iss')}:{installation_id}:{time.time()}".encode())
        return json_answer(
            201,
            {
                "token": "ghs_" + minted.hexdigest()[:36],
                "expires_at": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(time.time()) + 3600)
                ),
                "permissions": {"checks": "write", "pull_requests": "write"},
            },
        )
