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
* auth is a token (``Authorization: Bearer``) or a GitHub App installation token
  (:mod:`shared.adapters.github_auth`); ``requests``/``not_modified`` count what was sent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
from pydantic import ValidationError

from shared.adapters.github_auth import GitHubAppAuth
from shared.adapters.github_etags import CachedAnswer, EtagCache, PostgresEtagCache
from shared.adapters.http import (
    body_json,
    error_message,
    raise_for_status,
    retry_after_seconds,
    send,
)
from shared.db import Database
from shared.errors import RateLimitedError, UpstreamError, UpstreamNotFoundError
from shared.models.github import (
    CheckRun,
    CheckSuite,
    CombinedStatus,
    CommitStatus,
    Comparison,
    PullFile,
    PullRequest,
    Review,
    ReviewComment,
    ReviewThread,
)
from shared.settings import Settings

API_VERSION = "2022-11-28"
PER_PAGE = 100
SECONDARY_LIMIT_WAIT_S = 60.0

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

SERVICE = "GitHub"

# ``/repos/{owner}/{name}`` and the sub-resources whose 404 means the run's object is gone.
_RESOURCE_PATH = re.compile(
    r"/repos/(?P<repo>[^/]+/[^/]+?)(?:/(?P<kind>pulls|commits|compare)/(?P<ref>[^/]+).*)?/?$"
)
_RESOURCE_KINDS = {
    None: "repository",
    "pulls": "pull_request",
    "commits": "commit",
    "compare": "commit",
}
_GONE = (404, 410)


def _not_found(resp: httpx.Response) -> UpstreamNotFoundError | None:
    """The typed "not found" of a 404/410 on a repository, pull request or commit path."""
    if resp.status_code not in _GONE:
        return None
    match = _RESOURCE_PATH.search(resp.request.url.path)
    if match is None:
        return None
    resource = _RESOURCE_KINDS[match["kind"]]
    ref: str | int | None = match["ref"]
    if resource == "pull_request" and ref is not None and str(ref).isdigit():
        ref = int(ref)
    what = {
        "repository": f"repository {match['repo']}",
        "pull_request": f"pull request {match['repo']}#{ref}",
        "commit": f"commit {ref} of {match['repo']}",
    }[resource]
    return UpstreamNotFoundError(
        f"GitHub answered {resp.status_code} for {what} ({error_message(resp)}): deleted, or the "
        "repository was renamed, made private or is not reachable with this credential",
        resource=resource,
        repository=match["repo"],
        ref=ref,
        service=SERVICE,
        upstream_status=resp.status_code,
    )


def _graphql_not_found(errors: Any, repo: str, number: int) -> UpstreamNotFoundError | None:
    """A GraphQL ``NOT_FOUND`` error on ``repository`` or ``repository.pullRequest``."""
    if not isinstance(errors, list):
        return None
    for error in errors:
        if not isinstance(error, dict) or error.get("type") != "NOT_FOUND":
            continue
        path = error.get("path") or []
        resource = "pull_request" if "pullRequest" in path else "repository"
        return UpstreamNotFoundError(
            f"GitHub GraphQL: {error.get('message') or 'NOT_FOUND'}",
            resource=resource,
            repository=repo,
            ref=number if resource == "pull_request" else None,
            service=SERVICE,
            upstream_status=200,
        )
    return None


def _rate_limited(resp: httpx.Response) -> RateLimitedError | None:
    if resp.status_code not in (403, 429):
        return None
    retry = retry_after_seconds(resp.headers)
    limited = (
        retry is not None
        or resp.headers.get("x-ratelimit-remaining") == "0"
        or resp.status_code == 429
    )
    if not limited:
        return None
    return RateLimitedError(
        f"GitHub rate limit: {error_message(resp)}",
        retry_after=SECONDARY_LIMIT_WAIT_S if retry is None else retry,
        service=SERVICE,
        upstream_status=resp.status_code,
    )


class HttpxGitHub:
    """The GitHub port over httpx.

    Args:
        api_url: ``https://api.github.com`` or a GitHub Enterprise/fake base URL.
        token: a token (PAT or installation token); None sends no ``Authorization``.
        timeout_s: per-request timeout in seconds.
        transport: an httpx transport (tests); None uses the network.
        auth: an httpx auth (a :class:`GitHubAppAuth`) used instead of ``token``.
        etag_cache: where conditional-request validators live; None sends plain GETs.

    Attributes:
        requests: requests sent by this adapter (304s included).
        not_modified: how many of them GitHub answered 304 (no rate limit spent).
    """

    def __init__(
        self,
        api_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        auth: GitHubAppAuth | None = None,
        etag_cache: EtagCache | None = None,
    ) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "codex-judge",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.api_url = api_url.rstrip("/")
        self._client = httpx.Client(
            headers=headers, timeout=timeout_s, transport=transport, auth=auth
        )
        self._auth = auth
        self._etags = etag_cache
        # Cached answers are keyed by credential: another token may see other repositories.
        if auth is not None:
            self._credential = auth.fingerprint()
        elif token:
            self._credential = "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
        else:
            self._credential = "anonymous"
        self.requests = 0
        self.not_modified = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        db: Database | None = None,
    ) -> HttpxGitHub:
        """Build from ``github_api_url``, ``github_token`` (or ``github_app_id``,
        ``github_app_private_key`` and ``github_app_installation_id``: App auth wins when all
        three are set), ``github_timeout_s`` and, with ``db`` and ``github_etag_cache``, the
        Postgres ETag cache."""
        token = settings.github_token.get_secret_value() if settings.github_token else None
        auth = None
        if (
            settings.github_app_id is not None
            and settings.github_app_private_key is not None
            and settings.github_app_installation_id is not None
        ):
            auth = GitHubAppAuth(
                settings.github_api_url,
                app_id=settings.github_app_id,
                private_key=settings.github_app_private_key.get_secret_value(),
                installation_id=settings.github_app_installation_id,
                timeout_s=settings.github_timeout_s,
                transport=transport,
            )
            token = None
        cache = PostgresEtagCache(db) if db is not None and settings.github_etag_cache else None
        return cls(
            settings.github_api_url,
            token,
            timeout_s=settings.github_timeout_s,
            transport=transport,
            auth=auth,
            etag_cache=cache,
        )

    def close(self) -> None:
        """Close the connection pools."""
        self._client.close()
        if self._auth is not None:
            self._auth.close()

    # --- plumbing ---

    def _request(
        self, method: str, url: str, *, allow_404: bool = False, **kwargs: Any
    ) -> httpx.Response:
        self.requests += 1
        resp = send(self._client, method, url, service=SERVICE, **kwargs)
        limited = _rate_limited(resp)
        if limited is not None:
            raise limited
        if resp.status_code in _GONE and allow_404:  # the caller answers None (a value)
            return resp
        gone = _not_found(resp)
        if gone is not None:
            raise gone
        raise_for_status(
            resp,
            service=SERVICE,
            default_retry_after=SECONDARY_LIMIT_WAIT_S,
            unauthorized_is_transient=True,
        )
        return resp

    def _json(self, resp: httpx.Response) -> Any:
        body = body_json(resp)
        if body is None:
            raise UpstreamError(
                f"GitHub answered {resp.status_code} with a body that is not JSON ({resp.url})",
                service=SERVICE,
            )
        return body

    def _get(
        self, url: str, *, params: dict[str, Any] | None = None, allow_404: bool = False
    ) -> httpx.Response:
        """A GET, conditional when an ETag cache is configured; a 304 is answered from it."""
        if self._etags is None:
            return self._request("GET", url, params=params, allow_404=allow_404)
        key = str(self._client.build_request("GET", url, params=params).url)
        cached = self._etags.get(key, self._credential)
        headers: dict[str, str] = {}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        resp = self._request("GET", key, headers=headers, allow_404=allow_404)
        if resp.status_code == 304 and cached is not None:
            self.not_modified += 1
            replay = {"content-type": "application/json"}
            if cached.link:
                replay["link"] = cached.link
            return httpx.Response(
                200, headers=replay, content=cached.body.encode(), request=resp.request
            )
        if resp.status_code == 200 and (
            resp.headers.get("etag") or resp.headers.get("last-modified")
        ):
            self._etags.put(
                key,
                self._credential,
                CachedAnswer(
                    etag=resp.headers.get("etag"),
                    last_modified=resp.headers.get("last-modified"),
                    link=resp.headers.get("link"),
                    body=resp.text,
                ),
            )
        return resp

    def _pages(self, path: str) -> Iterator[Any]:
        """Each page's JSON body of ``path``, following ``Link: rel="next"``."""
        url: str | None = f"{self.api_url}{path}"
        params: dict[str, Any] | None = {"per_page": PER_PAGE}
        while url:
            resp = self._get(url, params=params)
            yield self._json(resp)
            url = resp.links.get("next", {}).get("url")
            params = None  # the next link already carries every query parameter

    def _list(self, path: str, key: str | None = None) -> list[Any]:
        items: list[Any] = []
        for body in self._pages(path):
            page = body.get(key) if key and isinstance(body, dict) else body
            if not isinstance(page, list):
                raise UpstreamError(
                    f"GitHub answered {path} with an unexpected shape: "
                    f"expected a list{f' under {key!r}' if key else ''}",
                    service=SERVICE,
                )
            items.extend(page)
        return items

    def _parse(self, model: Any, raw: Any, what: str) -> Any:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise UpstreamError(
                f"GitHub {what} does not match its documented shape: {exc.errors()[0]['loc']}",
                service=SERVICE,
            ) from exc

    # --- the port ---

    def get_pull(self, repo: str, number: int) -> PullRequest | None:
        """``GET /repos/{repo}/pulls/{number}``; None when GitHub answers 404 or 410."""
        resp = self._get(f"{self.api_url}/repos/{repo}/pulls/{number}", allow_404=True)
        if resp.status_code in _GONE:
            return None
        pull: PullRequest = self._parse(PullRequest, self._json(resp), "pull request")
        return pull

    def list_pull_files(self, repo: str, number: int) -> list[PullFile]:
        """Every page of ``GET /repos/{repo}/pulls/{number}/files``."""
        raw = self._list(f"/repos/{repo}/pulls/{number}/files")
        return [self._parse(PullFile, item, "pull file") for item in raw]

    def get_pull_diff(self, repo: str, number: int) -> str | None:
        """The PR's unified diff: ``GET /repos/{repo}/pulls/{number}`` with ``Accept:
        application/vnd.github.diff`` (GitHub REST "Pulls", custom media types); None on 404.
        Not ETag-cached: the cache is keyed by URL, and this URL also answers JSON."""
        url = f"{self.api_url}/repos/{repo}/pulls/{number}"
        accept = {"Accept": "application/vnd.github.diff"}
        resp = self._request("GET", url, headers=accept, allow_404=True)
        return None if resp.status_code in _GONE else resp.text

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

    def rerequest_check_suite(self, repo: str, suite_id: int) -> dict[str, Any]:
        """``POST /repos/{repo}/check-suites/{suite_id}/rerequest`` (201, empty body): GitHub
        asks the suite's app to run it again. A write: callers check the repository
        allow-list and go through :func:`shared.effects.outbox.perform`.

        Returns:
            ``{"status": 201, "suite_id": suite_id}``.
        """
        resp = self._request(
            "POST", f"{self.api_url}/repos/{repo}/check-suites/{suite_id}/rerequest"
        )
        return {"status": resp.status_code, "suite_id": suite_id}

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
        owner, _, name = repo.partition("/")
        threads: list[ReviewThread] = []
        after: str | None = None
        while True:
            variables = {
                "owner": owner,
                "name": name,
                "number": number,
                "first": PER_PAGE,
                "after": after,
            }
            resp = self._request(
                "POST",
                f"{self._graphql_url()}",
                json={"query": REVIEW_THREADS_QUERY, "variables": variables},
            )
            body = self._json(resp)
            if not isinstance(body, dict) or body.get("errors"):
                errors = body.get("errors") if isinstance(body, dict) else body
                gone = _graphql_not_found(errors, repo, number)
                if gone is not None:
                    raise gone
                raise UpstreamError(
                    f"GitHub GraphQL answered errors: {errors}",
                    service=SERVICE,
                    repository=repo,
                    pr_number=number,
                )
            try:
                connection = body["data"]["repository"]["pullRequest"]["reviewThreads"]
                nodes, page_info = connection["nodes"], connection["pageInfo"]
            except (KeyError, TypeError) as exc:
                raise UpstreamError(
                    "GitHub GraphQL answer lacks repository.pullRequest.reviewThreads",
                    service=SERVICE,
                ) from exc
            threads += [self._thread(node) for node in nodes]
            if not page_info.get("hasNextPage"):
                return threads
            after = page_info.get("endCursor")

    def _graphql_url(self) -> str:
        # GitHub Enterprise serves REST under /api/v3 and GraphQL at /api/graphql.
        if self.api_url.endswith("/api/v3"):
            return self.api_url[: -len("/v3")] + "/graphql"
        return f"{self.api_url}/graphql"

    def _thread(self, node: dict[str, Any]) -> ReviewThread:
        comments = [
            ReviewComment(
                author=(c.get("author") or {}).get("login"),
                body=c.get("body") or "",
                url=c.get("url"),
            )
            for c in ((node.get("comments") or {}).get("nodes") or [])
        ]
        raw = {k: v for k, v in node.items() if k != "comments"}
        thread: ReviewThread = self._parse(ReviewThread, {**raw, "comments": []}, "review thread")
        return thread.model_copy(update={"comments": comments})
