"""The write half of FakeGitHub: merges, refs, contents, pull requests and reverts, recorded in
the fake's state so tests and ``make run`` can see every write (issue 5).

:func:`install_write_routes` adds these keys to the state (``GET``/``PUT /_fake/state``)::

    {"merges":         [{"repository", "number", "sha", "merge_method", "commit_title",
                         "merge_commit_sha"}],
     "deleted_refs":   ["owner/repo:refs/heads/<branch>"],
     "refs":           {"owner/repo": {"refs/heads/<branch>": "<sha>"}},
     "contents":       {"owner/repo": {"<branch>": {"<path>": {"content": "<text>",
                                                               "sha": "<blob sha>"}}}},
     "created_pulls":  [<REST pull object>],        # also added to "pulls"
     "reverts":        [{"reverted_number", "number", "url", "id", "title", "body"}],
     "write_failures": {"merge": 2},                # the next 2 merges answer 502
     "head_moves_on_merge": {"owner/repo#12": "<sha>"}}  # a push races the next merge

Wire behaviour from GitHub's REST docs: "Merge a pull request" answers 200
``{sha, merged: true, message}``, 405 ``Pull Request is not mergeable`` (closed, already
merged, or ``mergeable_state`` dirty/blocked), 409 ``Head branch was modified. Review and try
the merge again.`` when ``sha`` is not the head, 422 for an unknown ``merge_method``; a merged
pull request becomes ``state: closed, merged: true`` with its ``merge_commit_sha``. "Delete a
reference" answers 204, or 422 ``Reference does not exist``. "Create a reference" answers 201,
or 422 ``Reference already exists``. "Create or update file contents" answers 201/200, 422 when
an existing file is updated without ``sha``, 409 when ``sha`` is not the current blob. "Create
a pull request" answers 201, or 422 ``A pull request already exists for owner:branch.``. "List
pull requests" (``GET …/pulls``) filters by ``head`` (``owner:branch``) and ``state`` (``open``
by default, ``closed``, ``all``), newest first. The
GraphQL ``revertPullRequest`` mutation opens ``Revert "<title>"`` for a merged pull request.
"""

from __future__ import annotations

from typing import Any

import flask

from shared.local.fakes.base import FakeStore
from shared.local.fakes.github import git, pulls
from shared.local.fakes.github.wire import error_answer

WRITE_DEFAULTS: dict[str, Any] = {
    "merges": [],
    "deleted_refs": [],
    "refs": {},
    "contents": {},
    "created_pulls": [],
    "reverts": [],
    "write_failures": {},
    "head_moves_on_merge": {},
}


def _fail_injected(store: FakeStore, kind: str) -> flask.Response | None:
    """A 502 when ``write_failures[kind]`` asks for one (and count it down)."""
    failures = store.state.setdefault("write_failures", {})
    if int(failures.get(kind) or 0) > 0:
        failures[kind] = int(failures[kind]) - 1
        return error_answer(502, "Server Error")
    return None


def install_write_routes(app: flask.Flask, store: FakeStore) -> None:
    """Add the write endpoints (module docstring) to a FakeGitHub ``app`` and its ``store``."""
    # A new dict: the read side's defaults are a module constant shared by every app.
    store.defaults = {**store.defaults, **WRITE_DEFAULTS}
    with store.lock:
        for name, value in WRITE_DEFAULTS.items():
            store.state.setdefault(name, type(value)())

    def guarded(kind: str, work: Any) -> flask.Response:
        with store.lock:
            failed = _fail_injected(store, kind)
            return failed if failed is not None else work()

    @app.put("/repos/<owner>/<repo>/pulls/<int:number>/merge")
    def merge_pull(owner: str, repo: str, number: int) -> flask.Response:
        body = flask.request.get_json(silent=True)
        return guarded("merge", lambda: pulls.merge(store, f"{owner}/{repo}", number, body))

    @app.delete("/repos/<owner>/<repo>/git/refs/heads/<path:branch>")
    def delete_ref(owner: str, repo: str, branch: str) -> flask.Response:
        return guarded("delete_ref", lambda: git.delete_ref(store, f"{owner}/{repo}", branch))

    @app.post("/repos/<owner>/<repo>/git/refs")
    def create_ref(owner: str, repo: str) -> flask.Response:
        body = flask.request.get_json(silent=True)
        return guarded("create_ref", lambda: git.create_ref(store, f"{owner}/{repo}", body))

    @app.get("/repos/<owner>/<repo>/contents/<path:path>")
    def get_contents(owner: str, repo: str, path: str) -> flask.Response:
        with store.lock:
            return git.get_contents(store, f"{owner}/{repo}", path)

    @app.put("/repos/<owner>/<repo>/contents/<path:path>")
    def put_contents(owner: str, repo: str, path: str) -> flask.Response:
        body = flask.request.get_json(silent=True)
        return guarded("contents", lambda: git.put_contents(store, f"{owner}/{repo}", path, body))

    @app.post("/repos/<owner>/<repo>/pulls")
    def create_pull(owner: str, repo: str) -> flask.Response:
        body = flask.request.get_json(silent=True)
        return guarded("create_pull", lambda: pulls.create_pull(store, f"{owner}/{repo}", body))

    @app.get("/repos/<owner>/<repo>/pulls")
    def list_pulls(owner: str, repo: str) -> flask.Response:
        with store.lock:
            return pulls.list_pulls(store, f"{owner}/{repo}")

    @app.before_request
    def _revert_mutation() -> flask.Response | None:
        # The read-side /graphql route answers queries only; the one mutation is taken here,
        # before it (hooks run after the request log, so the mutation is still logged).
        if flask.request.method != "POST" or flask.request.path != "/graphql":
            return None
        payload = flask.request.get_json(silent=True)
        if not isinstance(payload, dict) or "revertPullRequest" not in str(payload.get("query")):
            return None
        return guarded("revert", lambda: pulls.revert(store, payload))
