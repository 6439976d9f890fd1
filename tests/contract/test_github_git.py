"""The git data reads of the GitHub port (REST "Git trees", "Git blobs") against the fake GitHub
and against GitHub's documented answers: the same listing and bytes from both."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from shared.adapters.github import HttpxGitHub
from shared.errors import UpstreamError, UpstreamRejectedError
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app

REPO = "octo-org/octo-repo"
COMMIT = "7638417db6d59f3c431d3e1f261cc637155684cd"
FILES = {"README.md": "# octo\n", "tests/test_x.py": "def test_x():\n    assert 1 + 1 == 2\n"}


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(create_app({"trees": {f"{REPO}@{COMMIT}": FILES}}))
    yield served
    served.stop()


def test_a_commit_tree_names_every_blob_and_each_blob_reads_back(fake: ServedFake) -> None:
    github = HttpxGitHub(fake.url, "t")
    tree = github.get_tree(REPO, COMMIT)
    blobs = {e.path: e.sha for e in tree.tree if e.type == "blob"}
    assert not tree.truncated and sorted(blobs) == sorted(FILES)
    assert "tests" in {e.path for e in tree.tree if e.type == "tree"}
    assert {p: github.get_blob(REPO, sha).decode() for p, sha in blobs.items()} == FILES
    with pytest.raises(UpstreamRejectedError):
        github.get_tree(REPO, "0" * 40)


def test_githubs_documented_answers_are_read() -> None:
    # "Get a tree" and "Get a blob" response examples (REST API 2022-11-28), trimmed.
    content = "Q29udGVudCBvZiB0aGUgYmxvYg==\n"

    def answer(request: httpx.Request) -> httpx.Response:
        if "/git/trees/" in request.url.path:
            assert request.url.params["recursive"] == "1"
            return httpx.Response(
                200,
                json={
                    "sha": "9fb037999f264ba9a7fc6274d15fa3ae2ab98312",
                    "url": "https://api.github.com/repos/octocat/Hello-World/trees/9fb0379",
                    "tree": [
                        {
                            "path": "file.rb",
                            "mode": "100644",
                            "type": "blob",
                            "size": 30,
                            "sha": "44b4fc6d56897b048c772eb4087f854f46256132",
                            "url": "https://api.github.com/repos/octocat/Hello-World/git/blobs/44b4fc6",
                        },
                        {
                            "path": "subdir",
                            "mode": "040000",
                            "type": "tree",
                            "sha": "f484d249c660418515fb01c2b9662073663c242e",
                            "url": "https://api.github.com/repos/octocat/Hello-World/git/blobs/f484d24",
                        },
                    ],
                    "truncated": True,
                },
            )
        if request.url.path.endswith("/bad"):
            return httpx.Response(200, json={"sha": "bad", "content": "%%%", "encoding": "base64"})
        return httpx.Response(
            200,
            json={
                "content": content,
                "encoding": "base64",
                "url": "https://api.github.com/repos/octocat/example/git/blobs/3a0f86f",
                "sha": "3a0f86fb8db8eea7ccbb9a95f5ad6a9d6f5cb9b1",
                "size": 19,
                "node_id": "Q29udGVudCBvZiB0aGUgYmxvYg==",
            },
        )

    github = HttpxGitHub("https://api.github.com", "t", transport=httpx.MockTransport(answer))
    tree = github.get_tree("octocat/Hello-World", "9fb037999f264ba9a7fc6274d15fa3ae2ab98312")
    assert tree.truncated and [(e.path, e.type) for e in tree.tree] == [
        ("file.rb", "blob"),
        ("subdir", "tree"),
    ]
    assert github.get_blob("octocat/example", "3a0f86f") == base64.b64decode(content)
    with pytest.raises(UpstreamError, match="not base64"):
        github.get_blob("octocat/example", "bad")
