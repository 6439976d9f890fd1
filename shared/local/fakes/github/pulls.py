"""FakeGitHub's pull request writes: merge, open, list and the GraphQL ``revertPullRequest``
mutation (the rules are in :mod:`shared.local.fakes.github.writes`).
"""

from __future__ import annotations

from typing import Any

import flask

from shared.local.fakes.base import FakeStore, json_answer
from shared.local.fakes.github.git import branch_sha, fake_sha, pulls_of
from shared.local.fakes.github.wire import error_answer

MERGE_METHODS = ("merge", "squash", "rebase")


def merge(store: FakeStore, repository: str, number: int, body: Any) -> flask.Response:
    """REST "Merge a pull request" (the answers are in :mod:`shared.local.fakes.github.writes`)."""
    pull = store.state["pulls"].get(f"{repository}#{number}")
    if pull is None:
        return error_answer(404, "Not Found")
    raced = store.state["head_moves_on_merge"].pop(f"{repository}#{number}", None)
    if raced:  # a push landed after the caller's last read: the head is no longer what it saw
        pull["head"]["sha"] = raced
    body = body if isinstance(body, dict) else {}
    method = body.get("merge_method") or "merge"
    if method not in MERGE_METHODS:
        return error_answer(
            422,
            "Validation Failed",
            errors=[{"resource": "PullRequest", "field": "merge_method", "code": "invalid"}],
        )
    if pull.get("merged") or pull.get("state") != "open":
        return error_answer(405, "Pull Request is not mergeable")
    if body.get("sha") and body["sha"] != pull["head"]["sha"]:
        return error_answer(409, "Head branch was modified. Review and try the merge again.")
    if pull.get("mergeable") is False or pull.get("mergeable_state") in ("dirty", "blocked"):
        return error_answer(405, "Pull Request is not mergeable")
    merge_sha = fake_sha("merge", repository, number, pull["head"]["sha"], method)
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


def new_pull(
    store: FakeStore, repository: str, *, title: str, head: str, base: str, body: str, draft: bool
) -> dict[str, Any]:
    """Open a pull request numbered after the repository's highest and record it."""
    numbers = [int(p["number"]) for p in pulls_of(store, repository)]
    number = max(numbers, default=0) + 1
    pull = {
        "number": number,
        "node_id": f"PR_fake{fake_sha(repository, number)[:12]}",
        "state": "open",
        "title": title,
        "body": body,
        "draft": draft,
        "merged": False,
        "mergeable": None,
        "mergeable_state": "unknown",
        "html_url": f"https://github.com/{repository}/pull/{number}",
        "head": {"ref": head, "sha": branch_sha(store, repository, head) or fake_sha(head)},
        "base": {"ref": base, "sha": branch_sha(store, repository, base) or fake_sha(base)},
    }
    store.state["pulls"][f"{repository}#{number}"] = pull
    store.state["created_pulls"].append(pull)
    return pull


def create_pull(store: FakeStore, repository: str, body: Any) -> flask.Response:
    """REST "Create a pull request": 201, or 422 for a missing field or an open PR of the same
    head."""
    body = body if isinstance(body, dict) else {}
    missing = [f for f in ("title", "head", "base") if not body.get(f)]
    if missing:
        return error_answer(
            422,
            "Validation Failed",
            errors=[
                {"resource": "PullRequest", "field": f, "code": "missing_field"} for f in missing
            ],
        )
    head = str(body["head"]).split(":", 1)[-1]
    for pull in pulls_of(store, repository):
        if pull.get("state") == "open" and pull["head"]["ref"] == head:
            owner = repository.split("/", 1)[0]
            return error_answer(
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
    pull = new_pull(
        store,
        repository,
        title=str(body["title"]),
        head=head,
        base=str(body["base"]),
        body=str(body.get("body") or ""),
        draft=bool(body.get("draft")),
    )
    return json_answer(201, pull)


def list_pulls(store: FakeStore, repository: str) -> flask.Response:
    """REST "List pull requests" filtered by ``head`` and ``state``, newest first."""
    head = flask.request.args.get("head")
    wanted = flask.request.args.get("state") or "open"
    pulls = [
        p
        for p in pulls_of(store, repository)
        if (head is None or p["head"]["ref"] == head.split(":", 1)[-1])
        and (wanted == "all" or p.get("state") == wanted)
    ]
    pulls.sort(key=lambda p: int(p["number"]), reverse=True)
    per_page = int(flask.request.args.get("per_page") or 30)
    return json_answer(200, pulls[:per_page])


def revert(store: FakeStore, payload: dict[str, Any]) -> flask.Response:
    """The GraphQL ``revertPullRequest`` mutation: opens ``Revert "<title>"`` for a merged PR."""
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
    store.state["refs"].setdefault(repository, {})[f"refs/heads/{branch}"] = fake_sha("revert", key)
    title = arguments.get("title") or f'Revert "{pull.get("title") or pull["number"]}"'
    body = arguments.get("body") or f"Reverts {repository}#{pull['number']}"
    new = new_pull(
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
