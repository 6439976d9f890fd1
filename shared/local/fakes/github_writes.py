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

import base64
import hashlib
from typing import Any

import flask

from shared.local.fakes.base import FakeStore, json_answer

DOCS = "https://docs.github.com/rest"
MERGE_METHODS = ("merge", "squash", "rebase")
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


def _sha(*parts: object) -> str:
    """A deterministic 40-hex SHA for objects the fake creates."""
    return hashlib.sha1("\0".join(str(p) for p in parts).encode()).hexdigest()


def _error(status: int, message: str, **extra: Any) -> flask.Response:
    return json_answer(status, {"message": message, "documentation_url": DOCS, **extra})


def _fail_injected(store: FakeStore, kind: str) -> flask.Response | None:
    """A 502 when ``write_failures[kind]`` asks for one (and count it down)."""
    failures = store.state.setdefault("write_failures", {})
    if int(failures.get(kind) or 0) > 0:
        failures[kind] = int(failures[kind]) - 1
        return _error(502, "Server Error")
    return None


def _pulls_of(store: FakeStore, repository: str) -> list[dict[str, Any]]:
    prefix = f"{repository}#"
    return [p for k, p in store.state["pulls"].items() if k.startswith(prefix)]


def _branch_sha(store: FakeStore, repository: str, branch: str) -> str | None:
    """The branch's head SHA: an explicit ref, else a pull request's head or base ref."""
    ref = f"refs/heads/{branch}"
    if f"{repository}:{ref}" in store.state["deleted_refs"]:
        return None
    explicit = store.state["refs"].get(repository, {}).get(ref)
    if explicit:
        return str(explicit)
    for pull in _pulls_of(store, repository):
        for side in ("head", "base"):
            if (pull.get(side) or {}).get("ref") == branch:
                return str(pull[side].get("sha") or _sha(repository, branch))
    return None


def _merge(store: FakeStore, repository: str, number: int, body: Any) -> flask.Response:
    pull = store.state["pulls"].get(f"{repository}#{number}")
    if pull is None:
        return _error(404, "Not Found")
    raced = store.state["head_moves_on_merge"].pop(f"{repository}#{number}", None)
    if raced:  # a push landed after the caller's last read: the head is no longer what it saw
        pull["head"]["sha"] = raced
    body = body if isinstance(body, dict) else {}
    method = body.get("merge_method") or "merge"
    if method not in MERGE_METHODS:
        return _error(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequest", "field": "merge_method", "code": "invalid"}],
        )
    if pull.get("merged") or pull.get("state") != "open":
        return _error(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != pull["head"]["sha"]:
        return _error(409, "Head branch was modified. Review and try the merge again.")
    if pull.get("mergeable") is False or pull.get("mergeable_state") in ("dirty", "blocked"):
        return _error(405, "Pull Request is not mergeable")
    merge_sha = _sha("merge", repository, number, pull["head"]["sha"], method)
    pull.update(
        state="closed",
        merged=True,
        mergeable=None,
        mergeable_state="unknown",
        merge_commit_sha=merge_sha,
        merged_at="2026-11-20T12:00:00Z",
    )
    store.state["merges"].append(
        {
            "repository": repository,
            "number": number,
            "sha": body.get("sha"),
            "merge_method": method,
            "commit_title": body.get("commit_title"),
            "merge_commit_sha": merge_sha,
        }
    )
    base = pull["base"]["ref"]
    store.state["refs"].setdefault(repository, {})[f"refs/heads/{base}"] = merge_sha
    return json_answer(
        200, {"sha": merge_sha, "merged": True, "message": "Pull Request successfully merged"}
    )


def _delete_ref(store: FakeStore, repository: str, branch: str) -> flask.Response:
    if _branch_sha(store, repository, branch) is None:
        return _error(422, "Reference does not exist")
    store.state["refs"].get(repository, {}).pop(f"refs/heads/{branch}", None)
    store.state["deleted_refs"].append(f"{repository}:refs/heads/{branch}")
    return flask.Response(b"", status=204)


def _create_ref(store: FakeStore, repository: str, body: Any) -> flask.Response:
    if not isinstance(body, dict) or not body.get("ref") or not body.get("sha"):
        return _error(422, 'Invalid request.\n\n"ref" and "sha" are required.')
    ref = str(body["ref"])
    if not ref.startswith("refs/") or ref.count("/") < 2:
        return _error(422, "Reference name must start with 'refs/' and have two slashes")
    branch = ref.removeprefix("refs/heads/")
    if _branch_sha(store, repository, branch) is not None:
        return _error(422, "Reference already exists")
    store.state["refs"].setdefault(repository, {})[ref] = body["sha"]
    deleted = f"{repository}:{ref}"
    if deleted in store.state["deleted_refs"]:
        store.state["deleted_refs"].remove(deleted)
    return json_answer(
        201,
        {
            "ref": ref,
            "node_id": f"REF_{_sha(repository, ref)[:16]}",
            "url": f"/repos/{repository}/git/{ref}",
            "object": {"sha": body["sha"], "type": "commit"},
        },
    )


def _default_branch(store: FakeStore, repository: str) -> str:
    for pull in _pulls_of(store, repository):
        return str(pull["base"]["ref"])
    return "main"


def _get_contents(store: FakeStore, repository: str, path: str) -> flask.Response:
    branch = flask.request.args.get("ref") or _default_branch(store, repository)
    entry = store.state["contents"].get(repository, {}).get(branch, {}).get(path)
    if entry is None:
        return _error(404, "Not Found")
    raw = str(entry.get("content") or "").encode()
    return json_answer(
        200,
        {
            "type": "file",
            "encoding": "base64",
            "size": len(raw),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": entry.get("sha") or _sha("blob", raw),
            "content": base64.b64encode(raw).decode(),
        },
    )


def _put_contents(store: FakeStore, repository: str, path: str, body: Any) -> flask.Response:
    if not isinstance(body, dict) or not body.get("message") or body.get("content") is None:
        return _error(422, 'Invalid request.\n\n"message" and "content" are required.')
    branch = body.get("branch") or _default_branch(store, repository)
    if branch != _default_branch(store, repository) and not _branch_sha(store, repository, branch):
        return _error(404, f"Branch {branch} not found")
    try:
        text = base64.b64decode(str(body["content"]), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return _error(422, "content is not valid Base64")
    files = store.state["contents"].setdefault(repository, {}).setdefault(branch, {})
    existing = files.get(path)
    if existing is not None:
        current = existing.get("sha") or _sha("blob", str(existing.get("content") or "").encode())
        if not body.get("sha"):
            return _error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if body["sha"] != current:
            return _error(409, f"{path} does not match {body['sha']}")
    blob = _sha("blob", text.encode())
    files[path] = {"content": text, "sha": blob}
    commit = _sha("commit", repository, branch, path, blob)
    store.state["refs"].setdefault(repository, {})[f"refs/heads/{branch}"] = commit
    return json_answer(
        200 if existing is not None else 201,
        {
            "content": {"name": path.rsplit("/", 1)[-1], "path": path, "sha": blob},
            "commit": {"sha": commit, "message": body["message"]},
        },
    )


def _new_pull(
    store: FakeStore, repository: str, *, title: str, head: str, base: str, body: str, draft: bool
) -> dict[str, Any]:
    numbers = [int(p["number"]) for p in _pulls_of(store, repository)]
    number = max(numbers, default=0) + 1
    pull = {
        "number": number,
        "node_id": f"PR_fake{_sha(repository, number)[:12]}",
        "state": "open",
        "title": title,
        "body": body,
        "draft": draft,
        "merged": False,
        "mergeable": None,
        "mergeable_state": "unknown",
        "html_url": f"https://github.com/{repository}/pull/{number}",
        "head": {"ref": head, "sha": _branch_sha(store, repository, head) or _sha(head)},
        "base": {"ref": base, "sha": _branch_sha(store, repository, base) or _sha(base)},
    }
    store.state["pulls"][f"{repository}#{number}"] = pull
    store.state["created_pulls"].append(pull)
    return pull


def _create_pull(store: FakeStore, repository: str, body: Any) -> flask.Response:
    body = body if isinstance(body, dict) else {}
    missing = [f for f in ("title", "head", "base") if not body.get(f)]
    if missing:
        return _error(
            422,
            "Validation Failed",
            errors=[
                {"resource": "PullRequest", "field": f, "code": "missing_field"} for f in missing
            ],
        )
    head = str(body["head"]).split(":", 1)[-1]
    for pull in _pulls_of(store, repository):
        if pull.get("state") == "open" and pull["head"]["ref"] == head:
            owner = repository.split("/", 1)[0]
            return _error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {owner}:{head}.",
                    }
                ],
            )
    pull = _new_pull(
        store,
        repository,
        title=str(body["title"]),
        head=head,
        base=str(body["base"]),
        body=str(body.get("body") or ""),
        draft=bool(body.get("draft")),
    )
    return json_answer(201, pull)


def _list_pulls(store: FakeStore, repository: str) -> flask.Response:
    head = flask.request.args.get("head")
    wanted = flask.request.args.get("state") or "open"
    pulls = [
        p
        for p in _pulls_of(store, repository)
        if (head is None or p["head"]["ref"] == head.split(":", 1)[-1])
        and (wanted == "all" or p.get("state") == wanted)
    ]
    pulls.sort(key=lambda p: int(p["number"]), reverse=True)
    per_page = int(flask.request.args.get("per_page") or 30)
    return json_answer(200, pulls[:per_page])


def _revert(store: FakeStore, payload: dict[str, Any]) -> flask.Response:
    arguments = ((payload.get("variables") or {}).get("input")) or {}
    node_id = arguments.get("pullRequestId")
    found = [
        (key, pull) for key, pull in store.state["pulls"].items() if pull.get("node_id") == node_id
    ]
    if not found:
        return json_answer(
            200,
            {
                "data": {"revertPullRequest": None},
                "errors": [
                    {
                        "type": "NOT_FOUND",
                        "path": ["revertPullRequest"],
                        "message": f"Could not resolve to a node with the global id of '{node_id}'",
                    }
                ],
            },
        )
    key, pull = found[0]
    if not pull.get("merged"):
        return json_answer(
            200,
            {
                "data": {"revertPullRequest": None},
                "errors": [{"type": "UNPROCESSABLE", "message": "Pull request is not merged"}],
            },
        )
    repository = key.split("#", 1)[0]
    branch = f"revert-{pull['number']}-{pull['head']['ref']}"
    store.state["refs"].setdefault(repository, {})[f"refs/heads/{branch}"] = _sha("revert", key)
    title = arguments.get("title") or f'Revert "{pull.get("title") or pull["number"]}"'
    body = arguments.get("body") or f"Reverts {repository}#{pull['number']}"
    new = _new_pull(
        store,
        repository,
        title=title,
        head=branch,
        base=pull["base"]["ref"],
        body=body,
        draft=False,
    )
    store.state["reverts"].append(
        {
            "reverted_number": pull["number"],
            "number": new["number"],
            "url": new["html_url"],
            "id": new["node_id"],
            "title": title,
            "body": body,
        }
    )
    result = {"id": new["node_id"], "number": new["number"], "url": new["html_url"]}
    return json_answer(200, {"data": {"revertPullRequest": {"revertPullRequest": result}}})


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
        return guarded("merge", lambda: _merge(store, f"{owner}/{repo}", number, body))

    @app.delete("/repos/<owner>/<repo>/git/refs/heads/<path:branch>")
    def delete_ref(owner: str, repo: str, branch: str) -> flask.Response:
        return guarded("delete_ref", lambda: _delete_ref(store, f"{owner}/{repo}", branch))

    @app.post("/repos/<owner>/<repo>/git/refs")
    def create_ref(owner: str, repo: str) -> flask.Response:
        body = flask.request.get_json(silent=True)
        return guarded("create_ref", lambda: _create_ref(store, f"{owner}/{repo}", body))

    @app.get("/repos/<owner>/<repo>/contents/<path:path>")
    def get_contents(owner: str, repo: str, path: str) -> flask.Response:
        with store.lock:
            return _get_contents(store, f"{owner}/{repo}", path)

    @app.put("/repos/<owner>/<repo>/contents/<path:path>")
    def put_contents(owner: str, repo: str, path: str) -> flask.Response:
        body = flask.request.get_json(silent=True)
        return guarded("contents", lambda: _put_contents(store, f"{owner}/{repo}", path, body))

    @app.post("/repos/<owner>/<repo>/pulls")
    def create_pull(owner: str, repo: str) -> flask.Response:
        body = flask.request.get_json(silent=True)
        return guarded("create_pull", lambda: _create_pull(store, f"{owner}/{repo}", body))

    @app.get("/repos/<owner>/<repo>/pulls")
    def list_pulls(owner: str, repo: str) -> flask.Response:
        with store.lock:
            return _list_pulls(store, f"{owner}/{repo}")

    @app.before_request
    def _revert_mutation() -> flask.Response | None:
        # The read-side /graphql route answers queries only; the one mutation is taken here,
        # before it (hooks run after the request log, so the mutation is still logged).
        if flask.request.method != "POST" or flask.request.path != "/graphql":
            return None
        payload = flask.request.get_json(silent=True)
        if not isinstance(payload, dict) or "revertPullRequest" not in str(payload.get("query")):
            return None
        return guarded("revert", lambda: _revert(store, payload))
