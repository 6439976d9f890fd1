"""FakeGitHub's git data: branch heads, refs and file contents, and the pull requests the write
routes read them from (REST "Git references" and "Repository contents").
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import flask

from shared.local.fakes.base import FakeStore, json_answer
from shared.local.fakes.github.wire import error_answer


def fake_sha(*parts: object) -> str:
    """A deterministic 40-hex SHA for objects the fake creates."""
    return hashlib.sha1("\0".join(str(p) for p in parts).encode()).hexdigest()


def pulls_of(store: FakeStore, repository: str) -> list[dict[str, Any]]:
    """The pull requests seeded or opened in ``repository`` (``owner/name``)."""
    prefix = f"{repository}#"
    return [p for k, p in store.state["pulls"].items() if k.startswith(prefix)]


def branch_sha(store: FakeStore, repository: str, branch: str) -> str | None:
    """The branch's head SHA: an explicit ref, else a pull request's head or base ref."""
    ref = f"refs/heads/{branch}"
    if f"{repository}:{ref}" in store.state["deleted_refs"]:
        return None
    explicit = store.state["refs"].get(repository, {}).get(ref)
    if explicit:
        return str(explicit)
    for pull in pulls_of(store, repository):
        for side in ("head", "base"):
            if (pull.get(side) or {}).get("ref") == branch:
                return str(pull[side].get("sha") or fake_sha(repository, branch))
    return None


def delete_ref(store: FakeStore, repository: str, branch: str) -> flask.Response:
    """REST "Delete a reference": 204, or 422 ``Reference does not exist``."""
    if branch_sha(store, repository, branch) is None:
        return error_answer(422, "Reference does not exist")
    store.state["refs"].get(repository, {}).pop(f"refs/heads/{branch}", None)
    store.state["deleted_refs"].append(f"{repository}:refs/heads/{branch}")
    return flask.Response(b"", status=204)


def create_ref(store: FakeStore, repository: str, body: Any) -> flask.Response:
    """REST "Create a reference": 201, or 422 when ``ref``/``sha`` are missing or the ref exists."""
    if not isinstance(body, dict) or not body.get("ref") or not body.get("sha"):
        return error_answer(422, 'Invalid request.\n\n"ref" and "sha" are required.')
    ref = str(body["ref"])
    if not ref.startswith("refs/") or ref.count("/") < 2:
        return error_answer(422, "Reference name must start with 'refs/' and have two slashes")
    branch = ref.removeprefix("refs/heads/")
    if branch_sha(store, repository, branch) is not None:
        return error_answer(422, "Reference already exists")
    store.state["refs"].setdefault(repository, {})[ref] = body["sha"]
    deleted = f"{repository}:{ref}"
    if deleted in store.state["deleted_refs"]:
        store.state["deleted_refs"].remove(deleted)
    return json_answer(
        201,
        {
            "ref": ref,
            "node_id": f"REF_{fake_sha(repository, ref)[:16]}",
            "url": f"/repos/{repository}/git/{ref}",
            "object": {"sha": body["sha"], "type": "commit"},
        },
    )


def default_branch(store: FakeStore, repository: str) -> str:
    """The base branch of the repository's first pull request, else ``main``."""
    for pull in pulls_of(store, repository):
        return str(pull["base"]["ref"])
    return "main"


def get_contents(store: FakeStore, repository: str, path: str) -> flask.Response:
    """REST "Get repository content" of one file (``?ref=`` branch), Base64 encoded; 404 when
    absent."""
    branch = flask.request.args.get("ref") or default_branch(store, repository)
    entry = store.state["contents"].get(repository, {}).get(branch, {}).get(path)
    if entry is None:
        return error_answer(404, "Not Found")
    raw = str(entry.get("content") or "").encode()
    return json_answer(
        200,
        {
            "type": "file",
            "encoding": "base64",
            "size": len(raw),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": entry.get("sha") or fake_sha("blob", raw),
            "content": base64.b64encode(raw).decode(),
        },
    )


def put_contents(store: FakeStore, repository: str, path: str, body: Any) -> flask.Response:
    """REST "Create or update file contents": 201 new, 200 updated; 422 without ``sha`` on an
    update, 409 on a stale ``sha``."""
    if not isinstance(body, dict) or not body.get("message") or body.get("content") is None:
        return error_answer(422, 'Invalid request.\n\n"message" and "content" are required.')
    branch = body.get("branch") or default_branch(store, repository)
    if branch != default_branch(store, repository) and not branch_sha(store, repository, branch):
        return error_answer(404, f"Branch {branch} not found")
    try:
        text = base64.b64decode(str(body["content"]), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return error_answer(422, "content is not valid Base64")
    files = store.state["contents"].setdefault(repository, {}).setdefault(branch, {})
    existing = files.get(path)
    if existing is not None:
        current = existing.get("sha") or fake_sha(
            "blob", str(existing.get("content") or "").encode()
        )
        if not body.get("sha"):
            return error_answer(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
        if body["sha"] != current:
            return error_answer(409, f"{path} does not match {body['sha']}")
    blob = fake_sha("blob", text.encode())
    files[path] = {"content": text, "sha": blob}
    commit = fake_sha("commit", repository, branch, path, blob)
    store.state["refs"].setdefault(repository, {})[f"refs/heads/{branch}"] = commit
    return json_answer(
        200 if existing is not None else 201,
        {
            "content": {"name": path.rsplit("/", 1)[-1], "path": path, "sha": blob},
            "commit": {"sha": commit, "message": body["message"]},
        },
    )
