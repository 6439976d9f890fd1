"""Without a worktree, the judge reads both sides of the change over GitHub's git data API for
the anti-gaming inventory when ``worktree_github_fallback`` is on (issue 11): real HTTP to the
judge and the fake GitHub, real Postgres (the tree and blob cache). Counted from the fake's
request log: the compare for the merge base, one tree per side, one blob per distinct file
content; a second evaluation of the same head reads no tree and no blob."""

from __future__ import annotations

import httpx

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes.base import ServedFake
from tests.functional.judge.test_judge import (
    CI_SUCCESS,
    PR,
    REPO,
    REVIEW_OK,
    SHA,
    ci_concluded,
    github,
    insert_run,
)

__all__ = ["github"]

MERGE_BASE = "c" * 40
TEST = "tests/test_core.py"
BASE_TEST = "def test_one():\n    assert one() == 1\n\n\ndef test_two():\n    assert two() == 2\n"
HEAD_TEST = "def test_one():\n    assert one() == 1\n"
PYPROJECT = '[tool.pytest.ini_options]\naddopts = "-q"\n'
COMPARE = {
    "status": "ahead",
    "ahead_by": 1,
    "behind_by": 0,
    "merge_base_commit": {
        "sha": MERGE_BASE,
        "commit": {"committer": {"date": "2025-10-01T00:00:00Z"}},
    },
    "base_commit": {"sha": MERGE_BASE, "commit": {"committer": {"date": "2025-10-01T00:00:00Z"}}},
    "commits": [],
    "files": [],
}
# The test file as GitHub's PR file list gives it: the patch deletes test_two.
PATCH = (
    "@@ -1,6 +1,2 @@\n def test_one():\n     assert one() == 1\n-\n-\n-def test_two():\n"
    "-    assert two() == 2\n"
)
SQL_EVALUATION = """
SELECT inputs FROM codex_judge.evaluations WHERE run_id = :id AND stage = 'final'
"""


def _seed(fake: ServedFake) -> None:
    state = httpx.get(f"{fake.url}/_fake/state").json()
    state["pull_files"] = {
        f"{REPO}#{PR}": [
            {"filename": TEST, "status": "modified", "additions": 0, "deletions": 4, "patch": PATCH}
        ]
    }
    state["compare"] = {f"{REPO}@main...{SHA}": COMPARE}
    state["trees"] = {
        f"{REPO}@{MERGE_BASE}": {TEST: BASE_TEST, "pyproject.toml": PYPROJECT},
        f"{REPO}@{SHA}": {TEST: HEAD_TEST, "pyproject.toml": PYPROJECT},
    }
    httpx.put(f"{fake.url}/_fake/state", json=state).raise_for_status()


def _git_reads(fake: ServedFake) -> list[str]:
    log = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    return sorted(e["path"] for e in log if "/git/" in e["path"] or "/compare/" in e["path"])


def test_both_sides_come_from_github_once_and_the_inventory_judges_them(
    function_url: str, github: ServedFake, db: Database, deps: Container
) -> None:
    deps.settings.worktree_github_fallback = True
    _seed(github)
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    with db.transaction() as tx:
        tx.run("UPDATE codex_judge.runs SET base_ref = 'main' WHERE id = :id", id=run_id)
    httpx.delete(f"{github.url}/_fake/requests").raise_for_status()
    assert ci_concluded(function_url("judge"), run_id).status_code == 200
    with db.transaction() as tx:
        evaluation = tx.one(SQL_EVALUATION, id=run_id)
    assert evaluation is not None
    assert evaluation["inputs"]["antigaming_source"] == "inventory"
    assert evaluation["inputs"]["inventory_source"] == "github"
    # The inventory's finding, with its before/after evidence from both sides' whole files.
    removed = [f for f in evaluation["inputs"]["gate_findings"] if f["code"] == "test_removed"]
    assert [(f["file"], f["before"], f["after"]) for f in removed] == [
        (TEST, "test_two: 1 assertion(s)", "absent")
    ]
    reads = _git_reads(github)
    blobs = [p for p in reads if "/git/blobs/" in p]
    # pyproject.toml is one blob on both sides: three distinct contents.
    assert len(blobs) == 3
    assert reads == sorted(
        [
            f"/repos/{REPO}/compare/main...{SHA}",
            f"/repos/{REPO}/git/trees/{MERGE_BASE}",
            f"/repos/{REPO}/git/trees/{SHA}",
            *blobs,
        ]
    )
    # Another run judged at the same head (a retried issue): the compare again (the base
    # branch may have moved), no tree and no blob: they come from the cache.
    second = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK, issue=4)
    with db.transaction() as tx:
        tx.run("UPDATE codex_judge.runs SET base_ref = 'main' WHERE id = :id", id=second)
    httpx.delete(f"{github.url}/_fake/requests").raise_for_status()
    assert ci_concluded(function_url("judge"), second, event_id="ci-2").status_code == 200
    assert _git_reads(github) == [f"/repos/{REPO}/compare/main...{SHA}"]
    with db.transaction() as tx:
        again = tx.one(SQL_EVALUATION, id=second)
    assert again is not None and again["inputs"]["inventory_source"] == "github"
