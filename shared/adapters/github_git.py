"""Git data reads over GitHub's REST API (REST "Git trees", "Git blobs"): both sides of a
change when no worktree holds them (issue 11).

* ``GET /repos/{repo}/git/trees/{sha}?recursive=1`` lists every path of a commit (a commit SHA
  is accepted where a tree SHA is documented) with each file's blob SHA, the key of the
  content cache; GitHub truncates listings over 100,000 entries or 7 MB (``truncated``);
* ``GET /repos/{repo}/git/blobs/{sha}`` answers a blob's content, base64 with wrapped lines
  (up to 100 MB).

Errors are those of every read of the adapter (:mod:`shared.adapters.github`).
"""

from __future__ import annotations

import base64
import binascii

from shared.adapters.github_client import SERVICE, GitHubClient
from shared.errors import UpstreamError
from shared.models.github import GitBlob, GitTree

__all__ = ["GitDataReads"]


class GitDataReads(GitHubClient):
    """The git-data half of :class:`shared.adapters.github.HttpxGitHub`."""

    def get_tree(self, repo: str, sha: str) -> GitTree:
        """``GET /repos/{repo}/git/trees/{sha}?recursive=1``: every entry of the commit's
        tree (``sha``: a 40-hex commit or tree SHA)."""
        resp = self._get(f"{self.api_url}/repos/{repo}/git/trees/{sha}", params={"recursive": "1"})
        tree: GitTree = self._parse(GitTree, self._json(resp), "git tree")
        return tree

    def get_blob(self, repo: str, sha: str) -> bytes:
        """``GET /repos/{repo}/git/blobs/{sha}``: the blob's bytes (``sha``: 40 hex)."""
        resp = self._get(f"{self.api_url}/repos/{repo}/git/blobs/{sha}")
        blob: GitBlob = self._parse(GitBlob, self._json(resp), "git blob")
        if blob.encoding == "utf-8":
            return blob.content.encode()
        try:
            return base64.b64decode(blob.content.replace("\n", ""), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UpstreamError(
                f"GitHub blob {sha} content is not base64 (encoding {blob.encoding!r})",
                service=SERVICE,
            ) from exc
