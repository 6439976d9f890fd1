"""Worktree snapshots (issue 13) against real git repositories built here from real commits and
served over ``file://`` (and one loopback HTTP server for the credentials), recorded in real
Postgres: merge-base name-status and patch, rename detection, idempotency per head SHA, a
force-pushed head, a clone failure, and the rule that no other source overwrites worktree rows.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

from shared.adapters.git_worktree import GitWorktrees
from shared.db import Database
from shared.gates.diff import PullDiff
from shared.github.snapshots import Snapshot, SnapshotError, parse_name_status
from shared.github.worktrees import record_files, snapshot_diff, worktrees_of
from shared.local.fakes.base import serve_fake
from shared.models.github import PullFile
from tests.support.gitrepo import GitRepo

REPO = "octo/widgets"
PR = 7
OLD_BODY = "".join(f"def helper_{i}():\n    return {i}\n\n" for i in range(12))

SQL_ROWS = """
SELECT head_sha, path, source, status, previous_path, similarity, patch, recorded_at
  FROM github.pr_files WHERE repository = :repo AND pr_number = :pr ORDER BY head_sha, path, source
"""


@pytest.fixture
def origin(tmp_path: Path) -> tuple[GitRepo, str, str]:
    """``main`` with a fork point, a feature branch (modify, rename, add) and a later commit on
    ``main`` the PR must not be judged for; returns (repo, fork SHA, feature head SHA)."""
    repo = GitRepo(tmp_path / "origin")
    fork = repo.commit(
        "base", {"app.py": "print('v1')\n", "base_only.py": "x = 1\n", "old_name.py": OLD_BODY}
    )
    repo.checkout("feature", create_from=fork)
    repo.move("old_name.py", "new_name.py")
    head = repo.commit(
        "feature",
        {"app.py": "print('v2')\n", "new_name.py": OLD_BODY + "# moved\n", "added.py": "y = 2\n"},
    )
    repo.checkout("main")
    repo.commit("later on main", {"base_only.py": "x = 99\n"})
    return repo, fork, head


class Counting:
    """The real snapshotter, counting how often it is asked (idempotency)."""

    def __init__(self, inner: GitWorktrees) -> None:
        self.inner, self.calls = inner, 0

    def snapshot(self, repo: str, number: int, base_ref: str, head_sha: str) -> Snapshot:
        self.calls += 1
        return self.inner.snapshot(repo, number, base_ref, head_sha)


def layout(tmp_path: Path, repo: GitRepo) -> str:
    """Put the origin where ``{repo}`` = octo/widgets resolves; the URL template."""
    target = tmp_path / "served" / "octo"
    target.mkdir(parents=True)
    (target / "widgets").symlink_to(repo.path)
    return (tmp_path / "served").as_uri() + "/{repo}"


def test_snapshot_diffs_from_the_merge_base_detects_renames_and_records_worktree_rows(
    db: Database, tmp_path: Path, origin: tuple[GitRepo, str, str]
) -> None:
    repo, fork, head = origin
    git = GitWorktrees(tmp_path / "snapshots", clone_url=layout(tmp_path, repo))
    with db.transaction() as tx:
        diff = snapshot_diff(tx, git, REPO, PR, "main", head)
    assert isinstance(diff, PullDiff) and diff.source == "worktree"
    assert diff.base == fork  # the merge base, not main's tip: base_only.py is not judged
    got = {(f.filename, f.status, f.previous_filename) for f in diff.files}
    assert got == {
        ("added.py", "added", None),
        ("app.py", "modified", None),
        ("new_name.py", "renamed", "old_name.py"),
    }
    renamed = next(f for f in diff.files if f.status == "renamed")
    assert renamed.additions == 1 and "+# moved" in (renamed.patch or "")
    with db.transaction() as tx:
        rows = tx.all(SQL_ROWS, repo=REPO, pr=PR)
        (allocation,) = worktrees_of(tx, REPO, PR)
    assert {(r["path"], r["source"]) for r in rows} == {
        ("added.py", "worktree"),
        ("app.py", "worktree"),
        ("new_name.py", "worktree"),
    }
    assert next(r for r in rows if r["path"] == "new_name.py")["similarity"] >= 50
    assert allocation.status == "ready" and allocation.merge_base_sha == fork
    # The detached worktree holds the head's files (blobs fetched lazily from the promisor).
    worktree = Path(allocation.path)
    assert (worktree / "added.py").read_text() == "y = 2\n"
    assert (worktree / ".git").is_file() and not (worktree / "old_name.py").exists()
    # A partial clone: the blob only main's later commit holds was never fetched.
    bare = tmp_path / "snapshots" / "repos" / f"{REPO}.git"
    later_blob = repo.git("rev-parse", "main:base_only.py").strip()
    listing = subprocess.run(
        ["git", "-C", str(bare), "rev-list", "--objects", "--missing=print", "origin/main"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert f"?{later_blob}" in listing.split()


def test_the_same_head_sha_is_snapshotted_once(
    db: Database, tmp_path: Path, origin: tuple[GitRepo, str, str]
) -> None:
    repo, _fork, head = origin
    git = Counting(GitWorktrees(tmp_path / "snapshots", clone_url=layout(tmp_path, repo)))
    with db.transaction() as tx:
        first = snapshot_diff(tx, git, REPO, PR, "main", head)
        before = tx.all(SQL_ROWS, repo=REPO, pr=PR)
    with db.transaction() as tx:
        again = snapshot_diff(tx, git, REPO, PR, "main", head)
        after = tx.all(SQL_ROWS, repo=REPO, pr=PR)
    assert git.calls == 1
    assert isinstance(first, PullDiff) and isinstance(again, PullDiff)
    assert again.files == first.files and again.digest() == first.digest()
    assert after == before  # not even recorded_at moved


def test_a_force_pushed_head_gets_a_new_snapshot_and_the_old_rows_stay_under_their_sha(
    db: Database, tmp_path: Path, origin: tuple[GitRepo, str, str]
) -> None:
    repo, fork, old_head = origin
    git = GitWorktrees(tmp_path / "snapshots", clone_url=layout(tmp_path, repo))
    with db.transaction() as tx:
        assert isinstance(snapshot_diff(tx, git, REPO, PR, "main", old_head), PullDiff)
    repo.checkout("feature", create_from=fork)  # the agent rewrote its branch: force push
    new_head = repo.commit("rewritten", {"rewritten.py": "z = 3\n"})
    with db.transaction() as tx:
        new = snapshot_diff(tx, git, REPO, PR, "main", new_head)
        rows = tx.all(SQL_ROWS, repo=REPO, pr=PR)
        allocations = worktrees_of(tx, REPO, PR)
    assert isinstance(new, PullDiff) and [f.filename for f in new.files] == ["rewritten.py"]
    by_sha: dict[str, set[str]] = {}
    for row in rows:
        by_sha.setdefault(row["head_sha"], set()).add(row["path"])
    assert by_sha == {
        old_head: {"added.py", "app.py", "new_name.py"},
        new_head: {"rewritten.py"},
    }
    assert {a.head_sha for a in allocations} == {old_head, new_head}
    assert all(a.status == "ready" for a in allocations)


def test_a_clone_failure_is_recorded_and_returned_as_the_fallback_reason(
    db: Database, tmp_path: Path
) -> None:
    git = GitWorktrees(tmp_path / "snapshots", clone_url=(tmp_path / "nowhere").as_uri())
    head = "a" * 40
    with db.transaction() as tx:
        reason = snapshot_diff(tx, git, REPO, PR, "main", head)
        (allocation,) = worktrees_of(tx, REPO, PR)
    assert isinstance(reason, str) and reason.startswith("snapshot failed: git fetch failed")
    assert allocation.status == "failed" and allocation.detail == reason


def test_a_failed_head_is_not_cloned_again_on_every_judge_pass(
    db: Database, tmp_path: Path
) -> None:
    git = Counting(GitWorktrees(tmp_path / "snapshots", clone_url=(tmp_path / "nowhere").as_uri()))
    head = "c" * 40
    with db.transaction() as tx:
        first = snapshot_diff(tx, git, REPO, PR, "main", head, retry_after_s=600)
        second = snapshot_diff(tx, git, REPO, PR, "main", head, retry_after_s=600)
    assert git.calls == 1 and second == first
    with db.transaction() as tx:
        snapshot_diff(tx, git, REPO, PR, "main", head, retry_after_s=0)
    assert git.calls == 2


def test_other_sources_never_overwrite_worktree_rows(
    db: Database, tmp_path: Path, origin: tuple[GitRepo, str, str]
) -> None:
    repo, _fork, head = origin
    git = GitWorktrees(tmp_path / "snapshots", clone_url=layout(tmp_path, repo))
    github_view = PullFile(filename="app.py", status="removed", patch="@@ -1 +0,0 @@\n-x")
    with db.transaction() as tx:
        snapshot_diff(tx, git, REPO, PR, "main", head)
        record_files(tx, REPO, PR, head, "github", [github_view])
        record_files(tx, REPO, PR, head, "worktree", [github_view])  # a second writer: refused
        rows = {(r["path"], r["source"]): r for r in tx.all(SQL_ROWS, repo=REPO, pr=PR)}
        stored = snapshot_diff(tx, None, REPO, PR, "main", head)
    assert rows[("app.py", "worktree")]["status"] == "modified"
    assert rows[("app.py", "github")]["status"] == "removed"
    assert isinstance(stored, PullDiff)
    assert {f.filename: f.status for f in stored.files}["app.py"] == "modified"


@pytest.fixture
def git_http() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback HTTP server that records each request's headers and answers 404 (a
    repository the credentials cannot see)."""
    seen: list[dict[str, str]] = []

    @Request.application  # type: ignore[misc]
    def app(request: Request) -> Response:
        seen.append({"path": request.full_path, **dict(request.headers)})
        return Response("not found", status=404)

    served = serve_fake(app)
    yield f"{served.url}/{{repo}}.git", seen
    served.stop()


def test_the_token_travels_as_an_http_extra_header_never_in_the_url_or_the_record(
    db: Database, tmp_path: Path, git_http: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = git_http
    token = "ghs_installationTokenForTest123"
    git = GitWorktrees(tmp_path / "snapshots", clone_url=url, token=lambda: token)
    with db.transaction() as tx:
        reason = snapshot_diff(tx, git, REPO, PR, "main", "b" * 40)
        (allocation,) = worktrees_of(tx, REPO, PR)
    expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    assert seen and seen[0]["Authorization"] == expected
    assert seen[0]["path"].startswith(f"/{REPO}.git/info/refs")
    assert isinstance(reason, str) and token not in reason and token not in str(allocation)
    config = (tmp_path / "snapshots" / "repos" / f"{REPO}.git" / "config").read_text()
    assert token not in config and "extraheader" not in config.lower()


def test_size_and_time_limits_stop_the_snapshot_with_a_reason(
    tmp_path: Path, origin: tuple[GitRepo, str, str]
) -> None:
    repo, _fork, head = origin
    url = layout(tmp_path, repo)
    small = GitWorktrees(tmp_path / "small", clone_url=url, max_bytes=1024)
    with pytest.raises(SnapshotError, match=r"clone of octo/widgets uses \d+ bytes, over 1024"):
        small.snapshot(REPO, PR, "main", head)
    hurried = GitWorktrees(tmp_path / "hurried", clone_url=url, timeout_s=1e-9)
    with pytest.raises(SnapshotError, match="over the 1e-09 s snapshot limit"):
        hurried.snapshot(REPO, PR, "main", head)
    with pytest.raises(SnapshotError, match="is not owner/name"):
        small.snapshot("../etc", PR, "main", head)
    with pytest.raises(SnapshotError, match="not a branch name"):
        small.snapshot(REPO, PR, "--upload-pack=x", head)


def test_name_status_parsing_keeps_odd_paths_verbatim() -> None:
    raw = b"M\0dir/with space.py\0R091\0old\ttab.py\0new\nline.py\0A\0\xc3\xa9t\xc3\xa9.md\0"
    entries = parse_name_status(raw)
    assert [(e.status, e.path, e.previous_path, e.similarity) for e in entries] == [
        ("modified", "dir/with space.py", None, None),
        ("renamed", "new\nline.py", "old\ttab.py", 91),
        ("added", "été.md", None, None),
    ]
