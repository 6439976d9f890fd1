"""The Facteur adapter against the fake Facteur over real HTTP: the protobuf CodexTask makes the
round trip intact, a repeated delivery id is recorded once, and errors map to the contract."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from functions.rerun import task as tasks
from shared.adapters.facteur import HttpxFacteur
from shared.adapters.http import UpstreamRejectedError
from shared.errors import UpstreamError
from shared.local.fakes import facteur as fake_facteur
from shared.local.fakes.base import ServedFake, serve_fake


@pytest.fixture
def facteur() -> Iterator[ServedFake]:
    served = serve_fake(fake_facteur.create_app())
    yield served
    served.stop()


def _plan() -> tasks.RerunPlan:
    return tasks.RerunPlan(
        run_id=42,
        repository="python/cpython",
        issue_number=7,
        attempt=3,
        max_attempts=3,
        delivery_id=tasks.delivery_id(42, 3),
        prompt="Fix the failing test.",
        base="main",
        head="codex/issue-7",
        head_sha="02a87ce98d14f4d9d6e72ade7b4146201657bb33",
        issue_url="https://github.com/python/cpython/issues/7",
        issue_title="os.walk ignores onerror",
        issue_body="Steps to reproduce …",
        failing_checks=[{"name": "tests (3.12)", "conclusion": "failure", "url": None}],
        review_threads=[{"summary": "Lib/os.py:12 Handle None.", "url": None, "author": "bot"}],
        reasons=[{"code": "ci_failed", "message": "tests (3.12) failed"}],
    )


def test_codex_task_round_trips_through_the_fake(facteur: ServedFake) -> None:
    client = HttpxFacteur(facteur.url)
    answer = client.submit(tasks.codex_task(_plan()))

    assert answer["status"] == "accepted" and answer["status_code"] == 202
    recorded = httpx.get(f"{facteur.url}/_fake/state").json()["tasks"]
    assert len(recorded) == 1
    task = recorded[0]
    assert task["stage"] == "CODEX_TASK_STAGE_IMPLEMENTATION"
    assert task["delivery_id"] == "rerun:42:3"
    assert task["issue_title"] == "os.walk ignores onerror"
    assert task["iteration"] == 3 and task["iteration_cycle"] == 3
    assert task["review_context"]["additional_notes"] == ["ci_failed: tests (3.12) failed"]
    assert task["review_context"]["failing_checks"] == [
        {"name": "tests (3.12)", "conclusion": "failure"}
    ]
    request = httpx.get(f"{facteur.url}/_fake/requests").json()["requests"][0]
    assert request["headers"]["Content-Type"] == "application/x-protobuf"


def test_a_repeated_delivery_id_is_recorded_once(facteur: ServedFake) -> None:
    client = HttpxFacteur(facteur.url)
    client.submit(tasks.codex_task(_plan()))
    again = client.submit(tasks.codex_task(_plan()))

    assert again["status"] == "duplicate"
    assert len(httpx.get(f"{facteur.url}/_fake/state").json()["tasks"]) == 1


def test_facteur_5xx_is_transient_and_a_rejected_body_is_permanent(facteur: ServedFake) -> None:
    httpx.put(f"{facteur.url}/_fake/state", json={"fail_next": 1})
    client = HttpxFacteur(facteur.url)
    with pytest.raises(UpstreamError):
        client.submit(tasks.codex_task(_plan()))

    answer = httpx.post(
        f"{facteur.url}/codex/tasks",
        content=b"\xff\xff\xff",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 400
    with pytest.raises(UpstreamRejectedError):
        client.submit(tasks.codex_task(_plan()).__class__())  # no delivery_id
