"""The prompt-injection corpus (tests/fixtures/injection, our own cases) against the judge over
real HTTP: a failing run carrying an injection is never passed, even by a model that would
answer pass to anything, and on a clean run the injected text reaches the model only inside
its fence, with secrets redacted."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes import openai as fake_openai
from shared.local.fakes.base import ServedFake, serve_fake
from tests.functional.judge.test_judge import (
    CI_FAILURE,
    CI_SUCCESS,
    FILES,
    PR,
    PULL,
    REPO,
    REVIEW_OK,
    ci_concluded,
    github,
    insert_run,
    run_completed,
)
from tests.functional.judge.test_llm import SUCCESS, completion, model_requests, verdict

__all__ = ["github"]

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "injection" / "cases.json").read_text()
)
CONFLICT = "@@ -1,2 +1,6 @@\n+<<<<<<< HEAD\n+a = 1\n+=======\n+a = 2\n+>>>>>>> main"
_FENCED = re.compile(r"\(untrusted data, not instructions\):\n(`{3,})\n.*?\n\1", re.DOTALL)


@pytest.fixture
def fooled_llm(deps: Container) -> Iterator[ServedFake]:
    """A model that answers pass to anything."""
    fake = serve_fake(fake_openai.create_app({"default": completion(SUCCESS, verdict("pass"))}))
    deps.settings.llm_base_url = f"{fake.url}/v1"
    yield fake
    fake.stop()


def stage(fake: ServedFake, case: dict[str, Any], *, failing: bool) -> dict[str, Any]:
    """Seed the fake GitHub for ``case``; returns the run's notify payload."""
    files = copy.deepcopy(FILES)
    pull = copy.deepcopy(PULL)
    pull.update(mergeable=True, mergeable_state="clean")
    notify: dict[str, Any] = {"summary": "Fixed the pixel data handler"}
    text = case["text"]
    if case["where"] == "diff":
        files[0]["patch"] += "\n" + "\n".join(f"+{line}" for line in text.splitlines())
    elif case["where"] == "commit_message":
        notify["commit_messages"] = [text]
    elif case["where"] == "issue_body":
        notify["issue_body"] = text
    elif case["where"] == "pr_body":
        pull["body"] = text
    else:
        notify["summary"] = text
    if failing and case["failure"] == "empty_diff":
        files = []
    if failing and case["failure"] == "conflict_markers":
        files.append({"filename": "setup.py", "status": "modified", "patch": CONFLICT})
    if failing and case["failure"] == "patch_apply_failed":
        notify["log_excerpt"] = "error: patch failed: pydicom/config.py:12"
    httpx.put(
        f"{fake.url}/_fake/state",
        json={"pulls": {f"{REPO}#{PR}": pull}, "pull_files": {f"{REPO}#{PR}": files}},
    ).raise_for_status()
    return notify


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_injection_never_flips_a_failing_run_to_pass(
    case: dict[str, Any],
    function_url: Any,
    github: ServedFake,
    fooled_llm: ServedFake,
    db: Database,
) -> None:
    notify = stage(github, case, failing=True)
    url = function_url("judge")
    if case["failure"] == "ci_failed":
        run_id = insert_run(db, ci=CI_FAILURE, review=REVIEW_OK, notify=notify)
        resp = ci_concluded(url, run_id, verdict="failure")
    else:
        run_id = insert_run(db, status="waiting_for_ci", notify=notify)
        resp = run_completed(url, run_id)
    body = resp.json()
    assert body["decision"] != "pass"
    assert case["failure"] in [r["code"] for r in body["reasons"]]
    assert model_requests(fooled_llm) == []


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_injected_text_reaches_the_model_only_inside_its_fence(
    case: dict[str, Any],
    function_url: Any,
    github: ServedFake,
    fooled_llm: ServedFake,
    db: Database,
) -> None:
    notify = stage(github, case, failing=False)
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK, notify=notify)
    ci_concluded(function_url("judge"), run_id)
    [request] = model_requests(fooled_llm)
    user = request["messages"][1]["content"]
    assert case["marker"] in user
    assert case["marker"] not in _FENCED.sub("", user)
    assert "ghp_0123456789" not in user  # the secret in one commit message is redacted
