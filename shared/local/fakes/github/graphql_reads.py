"""FakeGitHub's answers to the decision-point GraphQL reads of
:mod:`shared.adapters.github_graphql` (``CommitChecks``, ``PullReviews``, ``PullLiveState``),
built from the REST-shaped state in GitHub's GraphQL shapes (GitHub GraphQL reference:
``Commit.statusCheckRollup``, ``Commit.checkSuites``, ``PullRequest.reviews``,
``PullRequest.reviewThreads``, ``PullRequest.files``, ``PullRequest.commits``).

Enums are GitHub's upper-case spellings; ``databaseId`` carries the REST id; a connection is
left out when its ``with<Name>`` variable is false (the queries' ``@include``); pages are
``state["graphql"]["page_size"]`` nodes (default 100, the queries' ``first``) with base64
cursors. Like the REST fake, any commit exists (with no checks) unless its SHA is in
``state["graphql"]["missing_commits"]``, which answers ``object: null`` as GitHub does for an
unknown OID. ``rateLimit.cost`` is 1: each query asks under 100 connection requests per page, and
GitHub's cost is that sum divided by 100, at least 1 ("Rate limits and node limits for the
GraphQL API").
"""

from __future__ import annotations

import base64
from typing import Any

from shared.local.fakes.base import FakeStore
from shared.local.fakes.github.wire import RATE_LIMIT_TOTAL

PAGE_SIZE = 100
_FILE_STATUS = {
    "added": "ADDED",
    "removed": "DELETED",
    "modified": "MODIFIED",
    "renamed": "RENAMED",
    "copied": "COPIED",
    "changed": "CHANGED",
}


class CursorError(ValueError):
    """An ``after`` cursor this fake did not hand out."""


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _start(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1]) + 1
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise CursorError(f"`{cursor}` does not appear to be a valid cursor.") from exc


def connection(items: list[Any], after: str | None, size: int) -> dict[str, Any]:
    """One page of ``items`` as a GraphQL connection (``totalCount``, ``pageInfo``, ``nodes``)."""
    start = _start(after)
    nodes = items[start : start + size]
    return {
        "totalCount": len(items),
        "pageInfo": {
            "hasNextPage": start + size < len(items),
            "endCursor": _cursor(start + len(nodes) - 1) if nodes else None,
        },
        "nodes": nodes,
    }


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) else None


def _app(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    return {"databaseId": raw.get("id"), "slug": raw.get("slug")} if raw else None


def _author(user: dict[str, Any] | None) -> dict[str, Any] | None:
    if not user:
        return None
    return {
        "login": user.get("login"),
        "__typename": "Bot" if user.get("type") == "Bot" else "User",
    }


def check_run_node(run: dict[str, Any], suites: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """A REST check run as a rollup ``CheckRun`` node."""
    suite_id = (run.get("check_suite") or {}).get("id")
    suite = suites.get(suite_id) if suite_id is not None else None
    return {
        "__typename": "CheckRun",
        "databaseId": run.get("id"),
        "name": run.get("name"),
        "status": _upper(run.get("status")),
        "conclusion": _upper(run.get("conclusion")),
        "startedAt": run.get("started_at"),
        "completedAt": run.get("completed_at"),
        "detailsUrl": run.get("details_url"),
        "permalink": run.get("html_url"),
        "checkSuite": None
        if suite_id is None
        else {"databaseId": suite_id, "app": _app((suite or {}).get("app") or run.get("app"))},
    }


def status_node(status: dict[str, Any]) -> dict[str, Any]:
    """A REST commit status as a rollup ``StatusContext`` node."""
    return {
        "__typename": "StatusContext",
        "context": status.get("context"),
        "state": _upper(status.get("state")),
        "targetUrl": status.get("target_url"),
        "description": status.get("description"),
        "createdAt": status.get("created_at"),
    }


def suite_node(suite: dict[str, Any]) -> dict[str, Any]:
    """A REST check suite as a ``CheckSuite`` node."""
    return {
        "databaseId": suite.get("id"),
        "status": _upper(suite.get("status")),
        "conclusion": _upper(suite.get("conclusion")),
        "updatedAt": suite.get("updated_at"),
        "app": _app(suite.get("app")),
        "checkRuns": {"totalCount": suite.get("latest_check_runs_count") or 0},
    }


def _rollup_state(contexts: list[dict[str, Any]]) -> str:
    states = {c.get("conclusion") or c.get("state") or c.get("status") for c in contexts}
    if states & {"FAILURE", "ERROR", "TIMED_OUT", "CANCELLED", "ACTION_REQUIRED"}:
        return "FAILURE"
    if states & {None, "PENDING", "QUEUED", "IN_PROGRESS", "EXPECTED"}:
        return "PENDING"
    return "SUCCESS"


class Reads:
    """The state of one answer, read under the store's lock."""

    def __init__(self, store: FakeStore, variables: dict[str, Any]) -> None:
        self.state, self.vars = store.state, variables
        self.repo = f"{variables.get('owner')}/{variables.get('name')}"
        self.size = int((store.state.get("graphql") or {}).get("page_size") or PAGE_SIZE)
        limits = store.state.get("rate_limit") or {}
        remaining = limits.get("remaining")
        self.remaining = RATE_LIMIT_TOTAL if remaining is None else int(remaining)

    def wanted(self, name: str) -> bool:
        return bool(self.vars.get(f"with{name[0].upper()}{name[1:]}", True))

    def page(self, name: str, items: list[Any]) -> dict[str, Any]:
        return connection(items, self.vars.get(f"{name}After"), self.size)

    def rollup(self, sha: str) -> dict[str, Any] | None:
        key = f"{self.repo}@{sha}"
        suites = {s.get("id"): s for s in self.state["check_suites"].get(key, [])}
        runs = [r for r in self.state["check_runs"].get(key, []) if r.get("head_sha", sha) == sha]
        contexts = [check_run_node(r, suites) for r in runs]
        contexts += [status_node(s) for s in self.state["statuses"].get(key, [])]
        if not contexts:
            return None
        rollup: dict[str, Any] = {"state": _rollup_state(contexts)}
        if self.wanted("contexts"):
            rollup["contexts"] = self.page("contexts", contexts)
        return rollup

    def rate_limit(self) -> dict[str, Any]:
        return {"cost": 1, "remaining": self.remaining}

    def commit_checks(self) -> dict[str, Any]:
        sha = str(self.vars.get("oid"))
        key = f"{self.repo}@{sha}"
        if sha in ((self.state.get("graphql") or {}).get("missing_commits") or []):
            return {"rateLimit": self.rate_limit(), "repository": {"object": None}}
        commit: dict[str, Any] = {"oid": sha, "statusCheckRollup": self.rollup(sha)}
        if self.wanted("suites"):
            suites = [suite_node(s) for s in self.state["check_suites"].get(key, [])]
            commit["checkSuites"] = self.page("suites", suites)
        return {"rateLimit": self.rate_limit(), "repository": {"object": commit}}

    def pull_reviews(self, key: str) -> dict[str, Any]:
        pull: dict[str, Any] = {}
        if self.wanted("reviews"):
            pull["reviews"] = self.page(
                "reviews", [review_node(r) for r in self.state["reviews"].get(key, [])]
            )
        if self.wanted("threads"):
            pull["reviewThreads"] = self.page(
                "threads", list(self.state["review_threads"].get(key, []))
            )
        return {"rateLimit": self.rate_limit(), "repository": {"pullRequest": pull}}

    def pull_live(self, key: str) -> dict[str, Any]:
        raw = self.state["pulls"][key]
        node = pull_node(raw)
        if self.wanted("files"):
            files = [file_node(f) for f in self.state["pull_files"].get(key, [])]
            node["files"] = self.page("files", files)
        if self.wanted("threads"):
            node["reviewThreads"] = self.page(
                "threads", list(self.state["review_threads"].get(key, []))
            )
        sha = str((raw.get("head") or {}).get("sha"))
        node["commits"] = {
            "nodes": [{"commit": {"oid": sha, "statusCheckRollup": self.rollup(sha)}}]
        }
        return {"rateLimit": self.rate_limit(), "repository": {"pullRequest": node}}


def review_node(review: dict[str, Any]) -> dict[str, Any]:
    """A REST review as a ``PullRequestReview`` node."""
    commit = review.get("commit_id")
    return {
        "databaseId": review.get("id"),
        "state": review.get("state"),
        "body": review.get("body"),
        "submittedAt": review.get("submitted_at"),
        "author": _author(review.get("user")),
        "commit": {"oid": commit} if commit else None,
    }


def file_node(item: dict[str, Any]) -> dict[str, Any]:
    """A REST pull request file as a ``PullRequestChangedFile`` node."""
    return {
        "path": item.get("filename"),
        "additions": int(item.get("additions") or 0),
        "deletions": int(item.get("deletions") or 0),
        "changeType": _FILE_STATUS.get(str(item.get("status")), "MODIFIED"),
    }


def pull_node(pull: dict[str, Any]) -> dict[str, Any]:
    """A REST pull request as a ``PullRequest`` node (its scalar fields)."""
    state = "MERGED" if pull.get("merged") else str(pull.get("state") or "open").upper()
    known = pull.get("mergeable")
    mergeable = "UNKNOWN" if known is None else ("MERGEABLE" if known else "CONFLICTING")
    head, base = pull.get("head") or {}, pull.get("base") or {}
    merge_sha = pull.get("merge_commit_sha") if pull.get("merged") else None
    return {
        "id": pull.get("node_id"),
        "number": pull.get("number"),
        "state": state,
        "title": pull.get("title"),
        "body": pull.get("body"),
        "url": pull.get("html_url"),
        "isDraft": bool(pull.get("draft")),
        "merged": bool(pull.get("merged")),
        "mergeable": mergeable,
        "mergeStateStatus": str(pull.get("mergeable_state") or "unknown").upper(),
        "updatedAt": pull.get("updated_at"),
        "headRefName": head.get("ref"),
        "headRefOid": head.get("sha"),
        "baseRefName": base.get("ref"),
        "baseRefOid": base.get("sha"),
        "author": _author(pull.get("user")),
        "mergeCommit": {"oid": merge_sha} if merge_sha else None,
    }
