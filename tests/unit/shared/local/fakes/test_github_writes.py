"""FakeGitHub's write routes in process (Flask test client): the merge rules GitHub documents."""

from __future__ import annotations

import copy
from typing import Any

import flask

from shared.local.fakes.base import fake_store
from shared.local.fakes.github import create_app
from tests.contract import corpus


def _app(**changes: Any) -> flask.Flask:
    pull = copy.deepcopy(corpus.recorded_pull())
    pull.update({"state": "open", "merged": False, "mergeable_state": "clean", **changes})
    return create_app({"pulls": {corpus.PR_KEY: pull}})


def _merge(app: flask.Flask, sha: str) -> Any:
    return app.test_client().put("/repos/python/cpython/pulls/1/merge", json={"sha": sha})


def test_dirty_or_blocked_pull_requests_are_not_mergeable() -> None:
    for state in ("dirty", "blocked"):
        app = _app(mergeable_state=state)
        head = fake_store(app).state["pulls"][corpus.PR_KEY]["head"]["sha"]
        answer = _merge(app, head)
        assert answer.status_code == 405
        assert answer.json["message"] == "Pull Request is not mergeable"
        assert fake_store(app).state["merges"] == []


def test_a_push_racing_the_merge_makes_it_answer_409() -> None:
    app = _app()
    store = fake_store(app)
    head = store.state["pulls"][corpus.PR_KEY]["head"]["sha"]
    store.state["head_moves_on_merge"] = {corpus.PR_KEY: "f" * 40}
    answer = _merge(app, head)
    assert answer.status_code == 409
    assert store.state["pulls"][corpus.PR_KEY]["head"]["sha"] == "f" * 40
    assert store.state["merges"] == []


def test_the_write_state_survives_a_partial_state_replacement() -> None:
    app = _app()
    client = app.test_client()
    client.put("/_fake/state", json={"pulls": {}})
    state = client.get("/_fake/state").json
    assert state["merges"] == [] and state["reverts"] == [] and state["write_failures"] == {}
