"""The judge reads the PR's files from the worktree snapshot first, and GitHub's diff only as a
labelled fallback when the clone fails; ``codex-judge explain`` names the source of every file
list (issue 13). Real HTTP to the judge, the fake GitHub, real git over ``file://``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx

from shared.bootstrap import Container
from shared.cli.explain import explain_run
from shared.db import Database
from shared.local.fakes.base import ServedFake
from tests.functional.judge.test_judge import (
    CI_SUCCESS,
    PR,
    PULL,
    REPO,
    REVIEW_OK,
    ci_concluded,
    github,
    insert_run,
)
from tests.support.gitrepo import GitRepo

__all__ = ["github"]

SQL_EVALUATION = """
SELECT diff_source, inputs FROM codex_judge.evaluations WHERE run_id = :id AND stage = 'final'
"""
SQL_SOURCES = """
SELECT DISTINCT source FROM github.pr_files WHERE repository = :repo AND pr_number = :pr
"""


def judged(db: Database, run_id: int) -> tuple[dict[str, Any], set[str], str]:
    with db.transaction() as tx:
        evaluation = tx.one(SQL_EVALUATION, id=run_id)
        sources = {r["source"] for r in tx.all(SQL_SOURCES, repo=REPO, pr=PR)}
        text = explain_run(tx, run_id)
    assert evaluation is not None and text is not None
    return evaluation, sources, text


def test_a_snapshot_is_the_judges_file_list_and_explain_names_it(
    function_url: Any, github: ServedFake, db: Database, deps: Container, tmp_path: Path
) -> None:
    origin = GitRepo(tmp_path / "served" / REPO)
    fork = origin.commit("base", {"pkg/core.py": "A = 1\n"})
    origin.checkout("fix", create_from=fork)
    head = origin.commit("fix", {"pkg/core.py": "A = 2\n", "tests/test_core.py": "ok = 1\n"})
    origin.checkout("main")
    deps.settings.worktree_dir = tmp_path / "snapshots"
    deps.settings.worktree_clone_url = (tmp_path / "served").as_uri() + "/{repo}"
    state = httpx.get(f"{github.url}/_fake/state").json()
    pull = copy.deepcopy(PULL)
    pull["head"]["sha"] = head
    pull.update(mergeable=True, mergeable_state="clean")
    state["pulls"] = {f"{REPO}#{PR}": pull}
    httpx.put(f"{github.url}/_fake/state", json=state).raise_for_status()
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    with db.transaction() as tx:
        tx.run(
            "UPDATE codex_judge.runs SET head_sha = :h, base_ref = 'main' WHERE id = :id",
            h=head,
            id=run_id,
        )
    assert ci_concluded(function_url("judge"), run_id).status_code == 200
    evaluation, sources, text = judged(db, run_id)
    assert evaluation["diff_source"] == "worktree"
    assert evaluation["inputs"]["files"] == ["pkg/core.py", "tests/test_core.py"]
    # The anti-gaming gates compared both sides' whole files, read from the snapshot.
    assert evaluation["inputs"]["antigaming_source"] == "inventory"
    assert sources == {"worktree"}
    assert "(source worktree: snapshot " in text
    assert f"source worktree, 2 file(s) from merge base {fork[:12]} of main" in text


def test_a_failed_clone_falls_back_to_githubs_diff_labelled_with_the_reason(
    function_url: Any, github: ServedFake, db: Database, deps: Container, tmp_path: Path
) -> None:
    deps.settings.worktree_dir = tmp_path / "snapshots"
    deps.settings.worktree_clone_url = (tmp_path / "missing").as_uri() + "/{repo}"
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    with db.transaction() as tx:
        tx.run("UPDATE codex_judge.runs SET base_ref = 'main' WHERE id = :id", id=run_id)
    assert ci_concluded(function_url("judge"), run_id).status_code == 200
    evaluation, sources, text = judged(db, run_id)
    assert evaluation["diff_source"] == "github"
    assert evaluation["inputs"]["antigaming_source"] == "diff_lines"
    assert evaluation["inputs"]["diff_fallback"].startswith("snapshot failed: git fetch failed")
    assert sources == {"github"}
    assert "fallback because snapshot failed: git fetch failed" in text
    assert "worktree failed: snapshot failed" in text
    assert "source github (labelled fallback): 1 file(s)" in text
