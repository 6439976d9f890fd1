"""The wire behaviour every FakeGitHub endpoint shares: rate limits, pagination, 404s, one-shot
injected errors and conditional requests (ETag / 304).

From GitHub's REST docs ("Using pagination", "Rate limits for the REST API", "Best practices for
using the REST API"): lists take ``per_page`` (default 30, max 100) and ``page`` and answer a
``Link`` header with ``rel="next"``/``"last"`` (and ``"prev"``/``"first"`` after page 1);
every answer carries ``x-ratelimit-limit/remaining/reset/used/resource``; the primary limit
answers 403 with ``x-ratelimit-remaining: 0``; a secondary limit answers 403 with
``retry-after``; a missing object answers 404 ``{"message": "Not Found", ...}``. Every 200
answer to a GET carries an ``ETag`` (a hash of its body); a GET whose ``If-None-Match`` equals
it answers ``304 Not Modified`` with no body and is given back to the primary rate limit
(GitHub does not count a 304).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import flask

from shared.local.fakes.base import FakeStore, json_answer

DOCS = "https://docs.github.com/rest"
RATE_LIMIT_TOTAL = 5000


def rate_headers(limits: dict[str, Any], resource: str) -> dict[str, str]:
    """The ``x-ratelimit-*`` headers of an answer from ``resource`` (``core``/``graphql``)."""
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


def spend(store: FakeStore, resource: str) -> tuple[flask.Response | None, dict[str, str]]:
    """Count one request against the limits; a 403 answer when a limit is hit."""
    with store.lock:
        limits = store.state.setdefault("rate_limit", {})
        if int(limits.get("secondary_next") or 0) > 0:
            limits["secondary_next"] = int(limits["secondary_next"]) - 1
            headers = rate_headers(limits, resource)
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
            headers = rate_headers(limits, resource)
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
        return None, rate_headers(limits, resource)


def not_found(headers: Mapping[str, str]) -> flask.Response:
    """GitHub's 404 ``{"message": "Not Found"}`` with ``headers``."""
    return json_answer(404, {"message": "Not Found", "documentation_url": DOCS}, headers)


def paginate(items: list[Any], headers: dict[str, str]) -> tuple[list[Any], dict[str, str]]:
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


def counted_listing(store: FakeStore, state_key: str, key: str) -> flask.Response:
    """A ``{total_count, <state_key>: [page]}`` list, as GitHub answers for check runs and
    check suites."""
    refused, headers = spend(store, "core")
    if refused is not None:
        return refused
    with store.lock:
        items = list(store.state[state_key].get(key, []))
    page, headers = paginate(items, headers)
    return json_answer(200, {"total_count": len(items), state_key: page}, headers)


def error_answer(status: int, message: str, **extra: Any) -> flask.Response:
    """GitHub's error body: ``{message, documentation_url, **extra}`` with ``status``."""
    return json_answer(status, {"message": message, "documentation_url": DOCS, **extra})


def install_wire_hooks(app: flask.Flask, store: FakeStore) -> None:
    """Injected errors (``state["errors"]``, one-shot; an entry's optional ``variables`` must
    equal the GraphQL request's, so one pull request's or commit's read can fail) and ETag/304
    on every GET of ``app``."""

    @app.before_request
    def _injected_error() -> flask.Response | None:
        path = flask.request.path
        if path.startswith("/_fake/"):
            return None
        sent = flask.request.get_json(silent=True) if flask.request.method == "POST" else None
        variables = (sent or {}).get("variables") or {} if isinstance(sent, dict) else {}
        with store.lock:
            errors = store.state.setdefault("errors", [])
            for index, error in enumerate(errors):
                wanted = error.get("variables") or {}
                if str(error.get("path") or "") in path and all(
                    variables.get(name) == value for name, value in wanted.items()
                ):
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
            headers = rate_headers(limits, "core")
        return flask.Response(b"", status=304, headers={**headers, "ETag": etag})
