"""The FakeGitHub app: the read endpoints (pull requests, files, reviews, comments, check runs,
statuses, check suites, compare, the GraphQL reads), App installation tokens, and the write
routes of :mod:`shared.local.fakes.github.writes`; the state format is in
:mod:`shared.local.fakes.github`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import flask

from shared.local.fakes.base import FakeStore, create_fake_app, json_answer
from shared.local.fakes.github.diff import diff_answer, wants_diff
from shared.local.fakes.github.graphql import answer as graphql_answer
from shared.local.fakes.github.trees import install_tree_routes
from shared.local.fakes.github.wire import (
    DOCS,
    counted_listing,
    install_wire_hooks,
    not_found,
    paginate,
    spend,
)
from shared.local.fakes.github.writes import install_write_routes

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
    "trees": {},
    "rerequested": [],
    # Installation ids whose app was uninstalled: minting their token answers 404.
    "uninstalled": [],
    "errors": [],
    "stats": {"not_modified": 0},
    "rate_limit": {
        "remaining": None,
        "reset": None,
        "secondary_next": 0,
        "secondary_retry_after": 60,
    },
}


def _combined_state(statuses: list[dict[str, Any]]) -> str:
    """GitHub's rule: failure if any error/failure, pending if any pending or none, else success."""
    states = {s.get("state") for s in statuses}
    if states & {"error", "failure"}:
        return "failure"
    if not statuses or "pending" in states:
        return "pending"
    return "success"


def create_app(initial_state: dict[str, Any] | None = None) -> flask.Flask:
    """A FakeGitHub app starting from ``initial_state`` (the format in the module docstring)."""
    app, store = create_fake_app("fake_github", DEFAULT_STATE, initial_state)

    def listing(section: str, key: str) -> flask.Response:
        refused, headers = spend(store, "core")
        if refused is not None:
            return refused
        with store.lock:
            items = store.state[section].get(key)
            pr_known = "#" not in key or key in store.state["pulls"]
        if items is None and not pr_known:
            return not_found(headers)
        page, headers = paginate(list(items or []), headers)
        return json_answer(200, page, headers)

    @app.get("/repos/<owner>/<repo>/pulls/<int:number>")
    def get_pull(owner: str, repo: str, number: int) -> flask.Response:
        refused, headers = spend(store, "core")
        if refused is not None:
            return refused
        with store.lock:
            pull = store.state["pulls"].get(f"{owner}/{repo}#{number}")
            if pull is not None and wants_diff(flask.request):
                return diff_answer(store.state, f"{owner}/{repo}#{number}", headers)
        return not_found(headers) if pull is None else json_answer(200, pull, headers)

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
        return counted_listing(store, "check_runs", f"{owner}/{repo}@{sha}")

    @app.get("/repos/<owner>/<repo>/commits/<sha>/status")
    def combined_status(owner: str, repo: str, sha: str) -> flask.Response:
        refused, headers = spend(store, "core")
        if refused is not None:
            return refused
        with store.lock:
            statuses = list(store.state["statuses"].get(f"{owner}/{repo}@{sha}", []))
        page, headers = paginate(statuses, headers)
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
        refused, headers = spend(store, "graphql")
        if refused is not None:
            return refused
        return graphql_answer(store, flask.request.get_json(silent=True), headers)

    install_write_routes(app, store)
    install_tree_routes(app, store)
    install_wire_hooks(app, store)
    _install_ci_routes(app, store)
    return app


def _install_ci_routes(app: flask.Flask, store: FakeStore) -> None:
    """Check suites, rerequest, compare and App installation tokens."""

    @app.get("/repos/<owner>/<repo>/commits/<sha>/check-suites")
    def list_check_suites(owner: str, repo: str, sha: str) -> flask.Response:
        return counted_listing(store, "check_suites", f"{owner}/{repo}@{sha}")

    @app.post("/repos/<owner>/<repo>/check-suites/<int:suite_id>/rerequest")
    def rerequest_check_suite(owner: str, repo: str, suite_id: int) -> flask.Response:
        refused, headers = spend(store, "core")
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
        return not_found(headers)

    @app.get("/repos/<owner>/<repo>/compare/<path:basehead>")
    def compare(owner: str, repo: str, basehead: str) -> flask.Response:
        refused, headers = spend(store, "core")
        if refused is not None:
            return refused
        with store.lock:
            body = store.state["compare"].get(f"{owner}/{repo}@{basehead}")
        return not_found(headers) if body is None else json_answer(200, body, headers)

    @app.post("/app/installations/<int:installation_id>/access_tokens")
    def access_token(installation_id: int) -> flask.Response:
        with store.lock:
            uninstalled = installation_id in store.state["uninstalled"]
        if uninstalled:  # GitHub's answer for an installation that no longer exists
            return not_found({})
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
