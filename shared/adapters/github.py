"""HttpxGitHub: the :class:`shared.ports.GitHub` port over GitHub's REST and GraphQL APIs.

Rules, each from GitHub's REST docs:

* every request sends ``Authorization: Bearer <token>`` (when configured),
  ``Accept: application/vnd.github+json`` and ``X-GitHub-Api-Version: 2022-11-28``
  ("Getting started with the REST API");
* lists ask ``per_page=100`` and follow every ``Link: rel="next"`` ("Using pagination"), so CI
  is never read from the first page only (DESIGN §12.3);
* 403/429 with ``retry-after``, or with ``x-ratelimit-remaining: 0``, is a rate limit
  ("Rate limits for the REST API"): :class:`RateLimitedError` with ``retry_after`` from
  ``retry-after`` or ``x-ratelimit-reset - now``; a 403/429 without either waits 60 s, as the
  docs advise for secondary limits;
* 5xx, timeouts, connection errors and 401 are :class:`UpstreamError`; a GraphQL 200 with
  ``errors`` is :class:`UpstreamError` too (never an empty result); other 4xx are
  :class:`UpstreamRejectedError`; ``get_pull`` answers None on 404;
* 404/410 on a repository, a pull request (and its lists) or a commit is
  :class:`~shared.errors.UpstreamNotFoundError` naming the resource (``repository``,
  ``pull_request``, ``commit``), and so is a GraphQL ``NOT_FOUND`` error; GitHub answers 404
  alike for a deleted PR and for a repository renamed, made private or no longer reachable by
  the app ("Troubleshooting the REST API": 404 for resources the caller may not see). It is
  the one place "not found" is named: the gates record it as a decision (``needs_human``);
* polling GETs are conditional ("Best practices for using the REST API"): with an
  :class:`~shared.adapters.github_etags.EtagCache` each page is sent with the cached
  ``If-None-Match``/``If-Modified-Since``, and a 304 (which costs no rate limit) is answered
  from the cached body and ``Link`` header;
* each decision point reads with one GraphQL query (issue 12; :mod:`shared.adapters.
  github_graphql`): :meth:`HttpxGitHub.commit_checks` (ci-status),
  :meth:`HttpxGitHub.pull_reviews` (review-gate) and :meth:`HttpxGitHub.pull_live` (the judge,
  merge's drift check), each following its connections' cursors and summing
  ``rateLimit.cost`` into the answer's ``points`` and ``graphql_points``; the REST reads stay
  for what GraphQL has no equivalent of (the unified diff, compare) and for the fallbacks;
* auth is a token (``Authorization: Bearer``) or a GitHub App installation token
  (:mod:`shared.adapters.github_auth`); ``requests``/``not_modified`` count what was sent.
"""

from __future__ import annotations

from typing import Any

from shared.adapters import github_graphql as gql
from shared.adapters.github_client import (
    GONE,
    PER_PAGE,
    SERVICE,
    graphql_not_found,
)
from shared.adapters.github_etags import CachedAnswer
from shared.adapters.github_git import GitDataReads
from shared.adapters.github_graphql import (
    COMMIT_CHECKS_QUERY,
    PULL_LIVE_QUERY,
    PULL_REVIEWS_QUERY,
    Pages,
    commit_gone,
    cost,
    next_cursor,
    require,
)
from shared.errors import UpstreamError, UpstreamNotFoundError
from shared.models.github import (
    CheckRun,
    CheckSuite,
    CombinedStatus,
    CommitChecks,
    CommitStatus,
    Comparison,
    PullFile,
    PullLive,
    PullRequest,
    PullReviews,
    Review,
    ReviewThread,
)

__all__ = ["REVIEW_THREADS_QUERY", "HttpxGitHub"]

#: The GraphQL query for one page of review threads (``first`` ≤ 100, ``after`` a cursor).
REVIEW_THREADS_QUERY = """
query ReviewThreads($owner: String!, $name: String!, $number: Int!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line
          comments(first: 20) { nodes { author { login } body url } }
        }
      }
    }
  }
}
"""


class HttpxGitHub(GitDataReads):
    """The :class:`shared.ports.GitHub` port over httpx (constructor: :class:`GitHubClient`;
    git trees and blobs: :class:`~shared.adapters.github_git.GitDataReads`)."""

    def get_pull(self, repo: str, number: int) -> PullRequest | None:
        """``GET /repos/{repo}/pulls/{number}``; None when GitHub answers 404 or 410."""
        resp = self._get(f"{self.api_url}/repos/{repo}/pulls/{number}", allow_404=True)
        if resp.status_code in GONE:
            return None
        pull: PullRequest = self._parse(PullRequest, self._json(resp), "pull request")
        return pull

    def list_pull_files(self, repo: str, number: int) -> list[PullFile]:
        """Every page of ``GET /repos/{repo}/pulls/{number}/files``."""
        raw = self._list(f"/repos/{repo}/pulls/{number}/files")
        return [self._parse(PullFile, item, "pull file") for item in raw]

    def get_pull_diff(self, repo: str, number: int, head_sha: str | None = None) -> str | None:
        """The PR's unified diff: ``GET /repos/{repo}/pulls/{number}`` with ``Accept:
        application/vnd.github.diff`` (GitHub REST "Pulls", custom media types); None on 404.

        With ``head_sha`` and an ETag cache, the diff is read once per (repository, pull
        request, head SHA): a commit's diff against its merge base does not change, so the
        stored text is answered without a request (issue 12). The key is the URL with
        ``#diff@<head SHA>`` (the plain URL also answers JSON); a head that moved since is
        the caller's to detect (the judge compares head SHAs before it gates).
        """
        url = f"{self.api_url}/repos/{repo}/pulls/{number}"
        key = f"{url}#diff@{head_sha}" if head_sha else None
        if key is not None and self._etags is not None:
            cached = self._etags.get(key, self._credential)
            if cached is not None:
                return cached.body
        accept = {"Accept": "application/vnd.github.diff"}
        resp = self._request("GET", url, headers=accept, allow_404=True)
        if resp.status_code in GONE:
            return None
        if key is not None and self._etags is not None:
            self._etags.put(
                key,
                self._credential,
                CachedAnswer(etag=None, last_modified=None, link=None, body=resp.text),
            )
        return resp.text

    def list_check_runs(self, repo: str, sha: str) -> list[CheckRun]:
        """Every page of ``GET /repos/{repo}/commits/{sha}/check-runs?per_page=100``."""
        raw = self._list(f"/repos/{repo}/commits/{sha}/check-runs", "check_runs")
        return [self._parse(CheckRun, item, "check run") for item in raw]

    def get_combined_status(self, repo: str, sha: str) -> CombinedStatus:
        """``GET /repos/{repo}/commits/{sha}/status`` with every page of ``statuses``."""
        first: dict[str, Any] | None = None
        statuses: list[CommitStatus] = []
        for body in self._pages(f"/repos/{repo}/commits/{sha}/status"):
            if not isinstance(body, dict) or not isinstance(body.get("statuses"), list):
                raise UpstreamError("GitHub combined status lacks 'statuses'", service=SERVICE)
            first = first or body
            statuses += [self._parse(CommitStatus, s, "commit status") for s in body["statuses"]]
        assert first is not None  # _pages yields at least one page or raises
        return CombinedStatus(
            state=str(first.get("state")),
            sha=first.get("sha"),
            total_count=int(first.get("total_count") or len(statuses)),
            statuses=statuses,
        )

    def list_check_suites(self, repo: str, sha: str) -> list[CheckSuite]:
        """Every page of ``GET /repos/{repo}/commits/{sha}/check-suites?per_page=100``."""
        raw = self._list(f"/repos/{repo}/commits/{sha}/check-suites", "check_suites")
        return [self._parse(CheckSuite, item, "check suite") for item in raw]

    def compare_commits(self, repo: str, base: str, head: str) -> Comparison:
        """``GET /repos/{repo}/compare/{base}...{head}`` (three dots: from the merge base),
        reduced to the counts, the merge base and the base commit with committer dates.

        Raises:
            UpstreamNotFoundError: GitHub answered 404 (unknown base or head; resource
                ``commit``); it is an :class:`UpstreamRejectedError`.
        """
        resp = self._get(
            f"{self.api_url}/repos/{repo}/compare/{base}...{head}", params={"per_page": 1}
        )
        body = self._json(resp)
        if not isinstance(body, dict):
            raise UpstreamError("GitHub compare answer is not an object", service=SERVICE)

        def commit(raw: Any, what: str) -> dict[str, Any]:
            if not isinstance(raw, dict) or not raw.get("sha"):
                raise UpstreamError(f"GitHub compare answer lacks {what}.sha", service=SERVICE)
            date = ((raw.get("commit") or {}).get("committer") or {}).get("date")
            return {"sha": raw["sha"], "committed_at": date}

        comparison: Comparison = self._parse(
            Comparison,
            {
                "status": body.get("status"),
                "ahead_by": body.get("ahead_by"),
                "behind_by": body.get("behind_by"),
                "merge_base": commit(body.get("merge_base_commit"), "merge_base_commit"),
                "base": commit(body.get("base_commit"), "base_commit"),
            },
            "comparison",
        )
        return comparison

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        """Every page of ``GET /repos/{repo}/pulls/{number}/reviews``, oldest first."""
        raw = self._list(f"/repos/{repo}/pulls/{number}/reviews")
        return [self._parse(Review, item, "review") for item in raw]

    def list_review_threads(self, repo: str, number: int) -> list[ReviewThread]:
        """Every page of the GraphQL ``pullRequest.reviewThreads`` connection.

        Raises:
            UpstreamNotFoundError: ``NOT_FOUND`` (the repository or pull request is gone).
            UpstreamError: the answer has other ``errors``.
        """
        threads: list[ReviewThread] = []
        after: str | None = None
        while True:
            data = self._graphql(REVIEW_THREADS_QUERY, repo, number, first=PER_PAGE, after=after)
            pull = require(
                require(data.get("repository"), "repository").get("pullRequest"),
                "repository.pullRequest",
            )
            connection = require(pull.get("reviewThreads"), "pullRequest.reviewThreads")
            threads += [gql.thread(node) for node in connection.get("nodes") or []]
            after = next_cursor(connection)
            if after is None:
                return threads

    def commit_checks(self, repo: str, sha: str) -> CommitChecks:
        """A commit's check runs, statuses (``statusCheckRollup``) and check suites: one
        GraphQL request per 100 contexts or suites (:data:`gql.COMMIT_CHECKS_QUERY`).

        Raises:
            UpstreamNotFoundError: the repository or the commit (``object: null``) is unknown.
        """
        runs: list[CheckRun] = []
        statuses: list[CommitStatus] = []
        suites: list[CheckSuite] = []
        pages = Pages("contexts", "suites")
        while pages.open():
            data = self._graphql(COMMIT_CHECKS_QUERY, repo, None, oid=sha, **pages.variables())
            pages.points += cost(data)
            commit = require(data.get("repository"), "repository").get("object")
            if commit is None:
                raise commit_gone(repo, sha)
            contexts = (commit.get("statusCheckRollup") or {}).get("contexts")
            if pages.want["contexts"]:
                page_runs, page_statuses = gql.rollup_items(contexts, sha)
                runs, statuses = runs + page_runs, statuses + page_statuses
            if pages.want["suites"]:
                nodes = (commit.get("checkSuites") or {}).get("nodes") or []
                suites += [gql.suite(n, sha) for n in nodes]
            pages.advance(contexts=contexts, suites=commit.get("checkSuites"))
        return CommitChecks(check_runs=runs, statuses=statuses, suites=suites, points=pages.points)

    def pull_reviews(self, repo: str, number: int) -> PullReviews:
        """A pull request's reviews and review threads: one GraphQL request per 100 of either
        (:data:`~shared.adapters.github_graphql.PULL_REVIEWS_QUERY`).

        Raises:
            UpstreamNotFoundError: ``NOT_FOUND`` (the repository or pull request is gone).
        """
        reviews: list[Review] = []
        threads: list[ReviewThread] = []
        pages = Pages("reviews", "threads")
        while pages.open():
            data = self._graphql(PULL_REVIEWS_QUERY, repo, number, **pages.variables())
            pages.points += cost(data)
            pull = require(
                require(data.get("repository"), "repository").get("pullRequest"),
                "repository.pullRequest",
            )
            if pages.want["reviews"]:
                reviews += [gql.review(n) for n in (pull.get("reviews") or {}).get("nodes") or []]
            if pages.want["threads"]:
                nodes = (pull.get("reviewThreads") or {}).get("nodes") or []
                threads += [gql.thread(n) for n in nodes]
            pages.advance(reviews=pull.get("reviews"), threads=pull.get("reviewThreads"))
        return PullReviews(reviews=reviews, threads=threads, points=pages.points)

    def pull_live(self, repo: str, number: int) -> PullLive | None:
        """The pull request's live state in one GraphQL request per 100 files/threads/contexts
        (:data:`~shared.adapters.github_graphql.PULL_LIVE_QUERY`); None when GitHub does not know
        the pull request (as :meth:`get_pull`).

        Raises:
            UpstreamNotFoundError: the repository is unknown.
        """
        files: list[PullFile] = []
        threads: list[ReviewThread] = []
        runs: list[CheckRun] = []
        statuses: list[CommitStatus] = []
        pull: PullRequest | None = None
        pages = Pages("files", "threads", "contexts")
        while pages.open():
            try:
                data = self._graphql(PULL_LIVE_QUERY, repo, number, **pages.variables())
            except UpstreamNotFoundError as gone:
                if gone.resource == "pull_request":
                    return None
                raise
            pages.points += cost(data)
            node = require(
                require(data.get("repository"), "repository").get("pullRequest"),
                "repository.pullRequest",
            )
            pull = pull or gql.pull_request(node)
            head = ((node.get("commits") or {}).get("nodes") or [{}])[-1].get("commit") or {}
            contexts = (head.get("statusCheckRollup") or {}).get("contexts")
            if pages.want["files"]:
                files += [gql.pull_file(n) for n in (node.get("files") or {}).get("nodes") or []]
            if pages.want["threads"]:
                nodes = (node.get("reviewThreads") or {}).get("nodes") or []
                threads += [gql.thread(n) for n in nodes]
            if pages.want["contexts"]:
                page_runs, page_statuses = gql.rollup_items(contexts, pull.head.sha)
                runs, statuses = runs + page_runs, statuses + page_statuses
            pages.advance(
                files=node.get("files"), threads=node.get("reviewThreads"), contexts=contexts
            )
        assert pull is not None  # at least one page was read
        return PullLive(
            pull=pull,
            files=files,
            threads=threads,
            check_runs=runs,
            statuses=statuses,
            points=pages.points,
        )

    def _graphql(
        self, query: str, repo: str, number: int | None, **variables: Any
    ) -> dict[str, Any]:
        """POST one GraphQL request; its ``data``, or the typed error of its ``errors``."""
        owner, _, name = repo.partition("/")
        variables = {"owner": owner, "name": name, **variables}
        if number is not None:
            variables["number"] = number
        resp = self._request(
            "POST", self._graphql_url(), json={"query": query, "variables": variables}
        )
        body = self._json(resp)
        if not isinstance(body, dict) or body.get("errors"):
            errors = body.get("errors") if isinstance(body, dict) else body
            gone = graphql_not_found(errors, repo, number or 0)
            if gone is not None:
                raise gone
            raise UpstreamError(
                f"GitHub GraphQL answered errors: {errors}",
                service=SERVICE,
                repository=repo,
                pr_number=number,
            )
        data = require(body.get("data"), "data")
        self.graphql_points += cost(data)
        return data
