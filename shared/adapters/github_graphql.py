"""One GraphQL read per decision point (issue 12): the queries and their projection onto the
REST-shaped models of :mod:`shared.models.github`.

* :data:`COMMIT_CHECKS_QUERY` (ci-status): a commit's ``statusCheckRollup`` contexts (check runs
  with their suite and app, status contexts) and its ``checkSuites`` with their app;
* :data:`PULL_REVIEWS_QUERY` (review-gate): a pull request's ``reviews`` and ``reviewThreads``
  with their comments;
* :data:`PULL_LIVE_QUERY` (the judge and merge's drift check): the pull request's head/base
  OIDs, ``mergeable``, ``mergeStateStatus``, ``files``, ``reviewThreads`` and its head commit's
  rollup.

Every query asks ``rateLimit { cost remaining }`` (GitHub GraphQL "Rate limits and node
limits"); the costs are summed into each answer's ``points``. Lists over one page (100 nodes)
are followed with ``pageInfo { hasNextPage endCursor }`` cursors, one connection at a time
(``@include(if: ...)`` leaves out the connections already complete). GitHub's enums
(``COMPLETED``, ``SUCCESS``, ``CLEAN``, ``MODIFIED``) are lowered to the REST spellings.
"""

from __future__ import annotations

from typing import Any

from shared.errors import UpstreamError, UpstreamNotFoundError
from shared.models.github import (
    App,
    CheckRun,
    CheckSuite,
    CommitChecks,
    CommitStatus,
    PullFile,
    PullLive,
    PullRequest,
    PullReviews,
    Ref,
    Review,
    ReviewComment,
    ReviewThread,
    SuiteRef,
    User,
)

SERVICE = "GitHub"
PAGE = 100

_CONTEXTS = """
contexts(first: 100, after: $contextsAfter) @include(if: $withContexts) {
  pageInfo { hasNextPage endCursor }
  nodes {
    __typename
    ... on CheckRun {
      databaseId name status conclusion startedAt completedAt detailsUrl permalink
      checkSuite { databaseId app { databaseId slug } }
    }
    ... on StatusContext { context state targetUrl description createdAt }
  }
}
"""

_THREADS = """
reviewThreads(first: 100, after: $threadsAfter) @include(if: $withThreads) {
  pageInfo { hasNextPage endCursor }
  nodes {
    id isResolved isOutdated path line
    comments(first: 20) { nodes { author { login } body url } }
  }
}
"""

#: ci-status: the commit's rollup contexts (paged) and its check suites.
COMMIT_CHECKS_QUERY = (
    """
query CommitChecks($owner: String!, $name: String!, $oid: GitObjectID!,
    $contextsAfter: String, $withContexts: Boolean!, $suitesAfter: String, $withSuites: Boolean!) {
  rateLimit { cost remaining }
  repository(owner: $owner, name: $name) {
    object(oid: $oid) {
      ... on Commit {
        oid
        checkSuites(first: 100, after: $suitesAfter) @include(if: $withSuites) {
          pageInfo { hasNextPage endCursor }
          nodes {
            databaseId status conclusion updatedAt
            app { databaseId slug }
            checkRuns { totalCount }
          }
        }
        statusCheckRollup {
          state
"""
    + _CONTEXTS
    + """
        }
      }
    }
  }
}
"""
)

#: review-gate: every review and review thread of a pull request.
PULL_REVIEWS_QUERY = (
    """
query PullReviews($owner: String!, $name: String!, $number: Int!,
    $reviewsAfter: String, $withReviews: Boolean!, $threadsAfter: String, $withThreads: Boolean!) {
  rateLimit { cost remaining }
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviews(first: 100, after: $reviewsAfter) @include(if: $withReviews) {
        pageInfo { hasNextPage endCursor }
        nodes { databaseId state body submittedAt author { login __typename } commit { oid } }
      }
"""
    + _THREADS
    + """
    }
  }
}
"""
)

#: The judge and merge's drift check: the pull request's live state in one read.
PULL_LIVE_QUERY = (
    """
query PullLiveState($owner: String!, $name: String!, $number: Int!,
    $filesAfter: String, $withFiles: Boolean!, $threadsAfter: String, $withThreads: Boolean!,
    $contextsAfter: String, $withContexts: Boolean!) {
  rateLimit { cost remaining }
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      id number state title body url isDraft merged mergeable mergeStateStatus updatedAt
      headRefName headRefOid baseRefName baseRefOid
      author { login __typename }
      mergeCommit { oid }
      files(first: 100, after: $filesAfter) @include(if: $withFiles) {
        pageInfo { hasNextPage endCursor }
        nodes { path additions deletions changeType }
      }
"""
    + _THREADS
    + """
      commits(last: 1) {
        nodes {
          commit {
            oid
            statusCheckRollup {
              state
"""
    + _CONTEXTS
    + """
            }
          }
        }
      }
    }
  }
}
"""
)

# GraphQL PatchStatus → the REST ``status`` of a pull request file.
_CHANGE_TYPES = {
    "ADDED": "added",
    "DELETED": "removed",
    "MODIFIED": "modified",
    "RENAMED": "renamed",
    "COPIED": "copied",
    "CHANGED": "changed",
}


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def check_run(node: dict[str, Any], head_sha: str) -> CheckRun:
    """A rollup ``CheckRun`` node as the REST check run."""
    suite = node.get("checkSuite") or {}
    app = suite.get("app") or None
    return CheckRun(
        id=node["databaseId"],
        name=node["name"],
        head_sha=head_sha,
        status=_lower(node.get("status")) or "queued",
        conclusion=_lower(node.get("conclusion")),
        started_at=node.get("startedAt"),
        completed_at=node.get("completedAt"),
        details_url=node.get("detailsUrl"),
        html_url=node.get("permalink"),
        app=App(id=app.get("databaseId"), slug=app.get("slug")) if app else None,
        check_suite=SuiteRef(id=suite["databaseId"]) if suite.get("databaseId") else None,
    )


def status(node: dict[str, Any]) -> CommitStatus:
    """A rollup ``StatusContext`` node as the REST commit status (GraphQL has no database id)."""
    return CommitStatus(
        context=node["context"],
        state=_lower(node.get("state")) or "pending",
        target_url=node.get("targetUrl"),
        description=node.get("description"),
        created_at=node.get("createdAt"),
        updated_at=node.get("createdAt"),
    )


def suite(node: dict[str, Any], head_sha: str) -> CheckSuite:
    """A ``CheckSuite`` node as the REST check suite."""
    app = node.get("app") or None
    return CheckSuite(
        id=node["databaseId"],
        head_sha=head_sha,
        status=_lower(node.get("status")),
        conclusion=_lower(node.get("conclusion")),
        app=App(id=app.get("databaseId"), slug=app.get("slug")) if app else None,
        latest_check_runs_count=(node.get("checkRuns") or {}).get("totalCount"),
        updated_at=node.get("updatedAt"),
    )


def review(node: dict[str, Any]) -> Review:
    """A ``PullRequestReview`` node as the REST review."""
    author = node.get("author") or None
    kind = (author or {}).get("__typename")
    return Review(
        id=node["databaseId"],
        user=User(login=author["login"], type=kind) if author else None,
        state=node["state"],
        body=node.get("body"),
        commit_id=(node.get("commit") or {}).get("oid"),
        submitted_at=node.get("submittedAt"),
    )


def thread(node: dict[str, Any]) -> ReviewThread:
    """A ``PullRequestReviewThread`` node with its first comments."""
    comments = [
        ReviewComment(
            author=(c.get("author") or {}).get("login"), body=c.get("body") or "", url=c.get("url")
        )
        for c in ((node.get("comments") or {}).get("nodes") or [])
    ]
    raw = {k: v for k, v in node.items() if k != "comments"}
    return ReviewThread.model_validate({**raw, "comments": []}).model_copy(
        update={"comments": comments}
    )


def pull_file(node: dict[str, Any]) -> PullFile:
    """A ``PullRequestChangedFile`` node as the REST pull request file (no patch)."""
    additions, deletions = int(node.get("additions") or 0), int(node.get("deletions") or 0)
    return PullFile(
        filename=node["path"],
        status=_CHANGE_TYPES.get(str(node.get("changeType")), "modified"),
        additions=additions,
        deletions=deletions,
        changes=additions + deletions,
    )


def pull_request(node: dict[str, Any]) -> PullRequest:
    """A ``PullRequest`` node as the REST pull request (``mergeable`` MERGEABLE → True,
    CONFLICTING → False, UNKNOWN → None; ``mergeStateStatus`` lowered = ``mergeable_state``)."""
    author = node.get("author") or None
    mergeable = {"MERGEABLE": True, "CONFLICTING": False}.get(str(node.get("mergeable")))
    return PullRequest(
        number=node["number"],
        state="open" if node.get("state") == "OPEN" else "closed",
        title=node.get("title"),
        body=node.get("body"),
        html_url=node.get("url"),
        draft=node.get("isDraft"),
        merged=node.get("merged"),
        mergeable=mergeable,
        mergeable_state=_lower(node.get("mergeStateStatus")),
        updated_at=node.get("updatedAt"),
        node_id=node.get("id"),
        merge_commit_sha=(node.get("mergeCommit") or {}).get("oid"),
        head=Ref(ref=node["headRefName"], sha=node["headRefOid"]),
        base=Ref(ref=node["baseRefName"], sha=node["baseRefOid"]),
        user=User(login=author["login"], type=author.get("__typename")) if author else None,
    )


def rollup_items(
    contexts: dict[str, Any] | None, head_sha: str
) -> tuple[list[CheckRun], list[CommitStatus]]:
    """A page of rollup contexts split into check runs and statuses."""
    runs: list[CheckRun] = []
    statuses: list[CommitStatus] = []
    for node in (contexts or {}).get("nodes") or []:
        if node.get("__typename") == "CheckRun":
            runs.append(check_run(node, head_sha))
        elif node.get("__typename") == "StatusContext":
            statuses.append(status(node))
    return runs, statuses


def next_cursor(connection: dict[str, Any] | None) -> str | None:
    """The cursor of the next page, or None when the connection is complete."""
    info = (connection or {}).get("pageInfo") or {}
    return info.get("endCursor") if info.get("hasNextPage") else None


def require(value: Any, what: str) -> dict[str, Any]:
    """``value`` as an object, else :class:`UpstreamError` naming the missing path."""
    if not isinstance(value, dict):
        raise UpstreamError(f"GitHub GraphQL answer lacks {what}", service=SERVICE)
    return value


class Pages:
    """The cursors of several connections read together; a complete one is left out of the
    next request (its ``with<Name>`` variable false)."""

    def __init__(self, *names: str) -> None:
        self.want = dict.fromkeys(names, True)
        self.after: dict[str, str | None] = dict.fromkeys(names)
        self.points = 0

    def open(self) -> bool:
        """Whether a connection still has pages to read."""
        return any(self.want.values())

    def variables(self) -> dict[str, Any]:
        """``<name>After`` and ``with<Name>`` for each connection."""
        out: dict[str, Any] = {}
        for name, wanted in self.want.items():
            out[f"{name}After"] = self.after[name]
            out[f"with{name.capitalize()}"] = wanted
        return out

    def advance(self, **connections: Any) -> None:
        """Take each still-wanted connection's next cursor from the page just read."""
        for name, connection in connections.items():
            if self.want[name]:
                self.after[name] = next_cursor(connection)
                self.want[name] = self.after[name] is not None


def cost(data: dict[str, Any]) -> int:
    """``rateLimit.cost`` of one answer's ``data`` (0 when absent)."""
    return int((data.get("rateLimit") or {}).get("cost") or 0)


def commit_gone(repo: str, sha: str) -> UpstreamNotFoundError:
    """The typed "not found" of ``repository.object(oid:)`` answering null."""
    return UpstreamNotFoundError(
        f"GitHub GraphQL: no commit {sha} in {repo}",
        resource="commit",
        repository=repo,
        ref=sha,
        service=SERVICE,
        upstream_status=200,
    )


__all__ = [
    "COMMIT_CHECKS_QUERY",
    "PULL_LIVE_QUERY",
    "PULL_REVIEWS_QUERY",
    "CommitChecks",
    "Pages",
    "PullLive",
    "PullReviews",
    "commit_gone",
    "cost",
    "next_cursor",
    "pull_file",
    "pull_request",
    "require",
    "review",
    "rollup_items",
    "suite",
    "thread",
]
