"""judge woken by the scheduler's ``timers.due``: ``mergeable_state: unknown`` re-polled on a
durable timer with backoff until GitHub knows it, or given up after
``policy.mergeable_poll_timeout_s`` (issue 3 "Durable waits and reconcile"). Real HTTP, real
Postgres, the fake GitHub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.judge.tick import MAX_BACKOFF_S, next_delay_s
from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes.base import ServedFake, serve_fake
from shared.local.fakes.github import create_app
from tests.functional.judge.test_judge import (
    CI_SUCCESS,
    REPO,
    REVIEW_OK,
    ci_concluded,
    insert_run,
    seed,
)
from tests.functional.waits.test_durable_waits import Sink, make_due, tick


@pytest.fixture
def github(deps: Container) -> Iterator[ServedFake]:
    fake = serve_fake(create_app())
    deps.settings.github_api_url = fake.url
    yield fake
    fake.stop()


@pytest.fixture
def sink(deps: Container, serve: Any) -> Sink:
    recorder = Sink()
    deps.settings.k_sink = serve(recorder.app).url + "/"
    return recorder


def poll_timer(db: Database, run_id: int) -> dict[str, Any] | None:
    with db.transaction() as tx:
        return tx.one(
            "SELECT done_at IS NULL AS pending, payload FROM runtime.timers"
            " WHERE owner = 'judge' AND run_id = :id AND kind = 'mergeable_poll'",
            id=run_id,
        )


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [next_delay_s(n, 5.0) for n in (1, 2, 3, 4, 5)] == [10.0, 20.0, 40.0, 60.0, 60.0]
    assert next_delay_s(50, 5.0) == MAX_BACKOFF_S


def test_an_unknown_mergeable_state_is_re_polled_until_known(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    seed(github, mergeable_state="unknown")
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    url = function_url("judge")
    assert ci_concluded(url, run_id).status_code == 202
    assert (poll_timer(db, run_id) or {}).get("pending") is True
    make_due(db, "judge", "mergeable_poll")
    # still unknown: polled again later, with backoff
    assert tick(url, 1, owner="judge").status_code == 202
    timer = poll_timer(db, run_id)
    assert timer is not None and timer["pending"] and timer["payload"]["polls"] == 1
    seed(github, mergeable_state="clean")
    make_due(db, "judge", "mergeable_poll")
    assert tick(url, 2, owner="judge").status_code == 202
    [decided] = sink.of_type("judge.decided.v1")
    assert decided["decision"] == "pass" and decided["run_id"] == run_id
    assert poll_timer(db, run_id) == {"pending": False, "payload": timer["payload"]}


def test_a_mergeable_state_unknown_past_the_timeout_goes_to_a_person(
    function_url: Any, github: ServedFake, sink: Sink, db: Database
) -> None:
    with db.transaction() as tx:
        tx.run(
            "INSERT INTO codex_judge.policies (repository, document) VALUES (:r,"
            " CAST(:d AS jsonb))",
            r=REPO,
            d=json.dumps({"mergeable_poll_timeout_s": 5}),
        )
    seed(github, mergeable_state="unknown")
    run_id = insert_run(db, ci=CI_SUCCESS, review=REVIEW_OK)
    url = function_url("judge")
    assert ci_concluded(url, run_id).status_code == 202
    make_due(db, "judge", "mergeable_poll")
    assert tick(url, owner="judge").status_code == 202
    [decided] = sink.of_type("judge.decided.v1")
    assert decided["decision"] == "needs_human"
    assert decided["reasons"][0]["code"] == "mergeable_unknown"
