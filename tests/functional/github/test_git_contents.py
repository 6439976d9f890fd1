"""Both sides of a change read over GitHub's git data API when no worktree holds them (issue
11): the real adapter against the fake GitHub over loopback HTTP, the cache in Postgres. Counted
from the fake's request log: one tree per side, one blob per distinct content, and nothing at
all for a second evaluation of the same commits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from shared.adapters.github import HttpxGitHub
from shared.db import Database
from shared.gates.inventory import inventory_findings
from shared.github.contents import PostgresBlobCache, github_snapshot
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app
from shared.models.github import PullFile

REPO = "acme/shop"
BASE = "a" * 40
HEAD = "b" * 40
PYPROJECT = '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
BASE_FILES = {
    "pyproject.toml": PYPROJECT,
    "shop/cart.py": "def total(items):\n    return sum(items)\n",
    "tests/test_cart.py": (
        "def test_total():\n    assert total([1, 2]) == 3\n\n\n"
        "def test_empty():\n    assert total([]) == 0\n"
    ),
    "README.md": "shop\n",
}
HEAD_FILES = {
    **BASE_FILES,
    "shop/cart.py": "def total(items):\n    return sum(items) if items else 0\n",
    "tests/test_cart.py": "def test_total():\n    assert total([1, 2]) == 3\n",
}
CHANGED = [
    PullFile(filename="shop/cart.py", status="modified"),
    PullFile(filename="tests/test_cart.py", status="modified"),
]


@pytest.fixture
def fake() -> Iterator[ServedFake]:
    served = serve_fake(
        create_app({"trees": {f"{REPO}@{BASE}": BASE_FILES, f"{REPO}@{HEAD}": HEAD_FILES}})
    )
    yield served
    served.stop()


def _git_blob(text: str) -> str:
    """Git's object name of a blob (git-hash-object(1)): SHA-1 of ``blob <size>\\0<bytes>``."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _requests(fake: ServedFake) -> list[str]:
    return [e["path"] for e in httpx.get(f"{fake.url}/_fake/requests").json()["requests"]]


def test_both_sides_are_read_once_per_blob_and_a_second_evaluation_costs_nothing(
    fake: ServedFake, db: Database
) -> None:
    github = HttpxGitHub(fake.url, "ghs_t")
    with db.transaction() as tx:
        change = github_snapshot(github, PostgresBlobCache(tx), REPO, BASE, HEAD, CHANGED)
    assert change is not None and change.source == "github"
    # The changed files and the configuration beside them, on both sides; README is not read.
    assert change.base == {
        p: BASE_FILES[p] for p in ("pyproject.toml", "shop/cart.py", "tests/test_cart.py")
    }
    assert change.head == {p: HEAD_FILES[p] for p in change.base}
    assert [f.code for f in inventory_findings(change)] == ["test_removed"]
    # Two trees, and five blobs: pyproject.toml is one blob on both sides.
    blobs = {_git_blob(files[p]) for files in (BASE_FILES, HEAD_FILES) for p in change.base}
    assert len(blobs) == 5
    assert sorted(_requests(fake)) == sorted(
        [f"/repos/{REPO}/git/trees/{BASE}", f"/repos/{REPO}/git/trees/{HEAD}"]
        + [f"/repos/{REPO}/git/blobs/{sha}" for sha in blobs]
    )
    assert github.requests == 7
    httpx.delete(f"{fake.url}/_fake/requests").raise_for_status()
    with db.transaction() as tx:
        again = github_snapshot(
            HttpxGitHub(fake.url, "ghs_t"), PostgresBlobCache(tx), REPO, BASE, HEAD, CHANGED
        )
    assert again == change
    assert _requests(fake) == []


def test_a_head_that_shares_blobs_with_a_cached_commit_reads_only_its_new_tree(
    fake: ServedFake, db: Database
) -> None:
    with db.transaction() as tx:
        github_snapshot(
            HttpxGitHub(fake.url, None), PostgresBlobCache(tx), REPO, BASE, HEAD, CHANGED
        )
    newer = "c" * 40
    state = httpx.get(f"{fake.url}/_fake/state").json()
    state["trees"][f"{REPO}@{newer}"] = {
        **HEAD_FILES,
        "tests/test_cart.py": BASE_FILES["tests/test_cart.py"],
    }
    httpx.put(f"{fake.url}/_fake/state", json=state).raise_for_status()
    httpx.delete(f"{fake.url}/_fake/requests").raise_for_status()
    with db.transaction() as tx:
        change = github_snapshot(
            HttpxGitHub(fake.url, None), PostgresBlobCache(tx), REPO, BASE, newer, CHANGED
        )
    assert (
        change is not None and change.head["tests/test_cart.py"] == BASE_FILES["tests/test_cart.py"]
    )
    # Only the new commit's tree: every blob it names was read for the first evaluation.
    assert _requests(fake) == [f"/repos/{REPO}/git/trees/{newer}"]
