"""HttpxGitHubWriter: the :class:`shared.ports.GitHubWriter` port over GitHub's REST and GraphQL.

It shares :class:`~shared.adapters.github_client.GitHubClient` with the read adapter (client,
headers and rate-limit rules, "Rate limits for the REST API"). What differs is how an answer
is classified::

    2xx                                  → WriteAnswer (success)
    403/429 rate limit                   → RateLimitedError (429 + Retry-After)
    5xx, 408, 401, timeouts, resets      → UpstreamError (503, retried)
    any other 4xx (404, 405, 409, 422…)  → WriteAnswer (a decision for the use case)

Endpoints, each from GitHub's REST docs: "Merge a pull request" (``PUT …/pulls/{n}/merge``
with ``sha`` and ``merge_method``; 405 "Pull Request is not mergeable", 409 "Head branch was
modified"), "Delete a reference" (``DELETE …/git/refs/heads/{branch}``, 204, 422 when the
reference does not exist), "Create a reference" (``POST …/git/refs``), "Get/Create or update
file contents" (``GET``/``PUT …/contents/{path}``, ``content`` base64), "Create a pull
request" (``POST …/pulls``), "Rerequest a check suite" (``POST …/check-suites/{id}/rerequest``,
201), "List pull requests" (``GET …/pulls?head=<owner>:<branch>&state=all``, to find the one
a repeated creation was refused for); and GraphQL's ``revertPullRequest`` mutation.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from shared.adapters.github_client import SERVICE, GitHubClient, rate_limited
from shared.adapters.http import body_json, raise_for_status, send
from shared.ports import WriteAnswer

#: The GraphQL mutation that opens a pull request reverting a merged one.
REVERT_PULL_MUTATION = """
mutation RevertPullRequest($input: RevertPullRequestInput!) {
  revertPullRequest(input: $input) {
    revertPullRequest { id number url }
  }
}
"""


class HttpxGitHubWriter(GitHubClient):
    """The GitHub write port over httpx (constructor: :class:`GitHubClient`)."""

    def _write(self, method: str, path: str, **kwargs: Any) -> WriteAnswer:
        """Send one write and classify the answer (see the module docstring).

        Raises:
            RateLimitedError: a primary or secondary rate limit.
            UpstreamError: 5xx, 408, 401 or a transport failure.
        """
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        resp = send(self._client, method, url, service=SERVICE, **kwargs)
        limited = rate_limited(resp)
        if limited is not None:
            raise limited
        if resp.status_code >= 500 or resp.status_code in (401, 408):
            raise_for_status(resp, service=SERVICE, unauthorized_is_transient=True)
        body = body_json(resp)
        return WriteAnswer(status=resp.status_code, body=body if isinstance(body, dict) else {})

    def merge_pull(
        self, repo: str, number: int, *, sha: str, merge_method: str, commit_title: str | None
    ) -> WriteAnswer:
        """``PUT /repos/{repo}/pulls/{number}/merge`` at head SHA ``sha`` (40 hex)."""
        payload: dict[str, Any] = {"sha": sha, "merge_method": merge_method}
        if commit_title:
            payload["commit_title"] = commit_title
        return self._write("PUT", f"/repos/{repo}/pulls/{number}/merge", json=payload)

    def delete_branch(self, repo: str, branch: str) -> WriteAnswer:
        """``DELETE /repos/{repo}/git/refs/heads/{branch}``."""
        return self._write("DELETE", f"/repos/{repo}/git/refs/heads/{quote(branch, safe='/')}")

    def create_ref(self, repo: str, *, ref: str, sha: str) -> WriteAnswer:
        """``POST /repos/{repo}/git/refs`` with ``{"ref": "refs/heads/…", "sha": …}``."""
        return self._write("POST", f"/repos/{repo}/git/refs", json={"ref": ref, "sha": sha})

    def get_contents(self, repo: str, path: str, *, ref: str | None = None) -> WriteAnswer:
        """``GET /repos/{repo}/contents/{path}[?ref=]``; 404 comes back as an answer."""
        params = {"ref": ref} if ref else None
        return self._write("GET", f"/repos/{repo}/contents/{quote(path)}", params=params)

    def put_contents(
        self,
        repo: str,
        path: str,
        *,
        message: str,
        content: bytes,
        branch: str,
        sha: str | None = None,
    ) -> WriteAnswer:
        """``PUT /repos/{repo}/contents/{path}``; ``sha`` is the blob being replaced."""
        payload: dict[str, Any] = {
            "message": message,
            "content": base64.b64encode(content).decode("ascii"),
            "branch": branch,
        }
        if sha:
            payload["sha"] = sha
        return self._write("PUT", f"/repos/{repo}/contents/{quote(path)}", json=payload)

    def create_pull(
        self, repo: str, *, title: str, head: str, base: str, body: str, draft: bool = False
    ) -> WriteAnswer:
        """``POST /repos/{repo}/pulls``."""
        payload = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        return self._write("POST", f"/repos/{repo}/pulls", json=payload)

    def find_pull(self, repo: str, *, head: str) -> dict[str, Any] | None:
        """The newest pull request of any state from branch ``head`` of ``repo``'s owner, or None.

        Raises:
            RateLimitedError: a primary or secondary rate limit.
            UpstreamError: 5xx, 408, 401 or a transport failure.
            UpstreamRejectedError: any other 4xx (the repository is gone or unreadable).
        """
        owner = repo.split("/", 1)[0]
        params = {"head": f"{owner}:{head}", "state": "all", "per_page": "1"}
        url = f"{self.api_url}/repos/{repo}/pulls"
        resp = send(self._client, "GET", url, service=SERVICE, params=params)
        limited = rate_limited(resp)
        if limited is not None:
            raise limited
        raise_for_status(resp, service=SERVICE, unauthorized_is_transient=True)
        pulls = body_json(resp)
        if not isinstance(pulls, list) or not pulls or not isinstance(pulls[0], dict):
            return None
        return dict(pulls[0])

    def rerequest_check_suite(self, repo: str, suite_id: int) -> WriteAnswer:
        """``POST /repos/{repo}/check-suites/{suite_id}/rerequest`` (201, empty body): GitHub
        asks the suite's app to run the suite again."""
        return self._write("POST", f"/repos/{repo}/check-suites/{suite_id}/rerequest")

    def revert_pull(
        self, pull_node_id: str, *, title: str | None = None, body: str | None = None
    ) -> WriteAnswer:
        """The GraphQL ``revertPullRequest`` mutation for the PR with node id ``pull_node_id``."""
        variables: dict[str, Any] = {"input": {"pullRequestId": pull_node_id}}
        if title:
            variables["input"]["title"] = title
        if body:
            variables["input"]["body"] = body
        return self._write(
            "POST",
            self._graphql_url(),
            json={"query": REVERT_PULL_MUTATION, "variables": variables},
        )
