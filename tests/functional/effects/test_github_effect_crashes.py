"""GitHub writes whose worker dies, or loses Postgres, between the call and its record are
finished once, never repeated and never stranded (issue 10, DESIGN §5): merge and prompt-tune
are timer owners whose recovery timers hand the event back to their tick, and the writes are
idempotent upstream (a merge at the expected ``sha`` once merged answers 405 and the PR reads
merged; a repeated branch creation is "Reference already exists"; a repeated PR creation is
"A pull request already exists" and the existing PR is looked up).

Each case cuts the database at a chosen point of the write (:mod:`tests.support.cut_after`),
lets time pass (the claim's lease and the timers' delays moved into the past, as the clock
would) and then redelivers the event or ticks the owner; the fake GitHub's ``/_fake/requests``
counts the calls that reached it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.bootstrap import Container
from shared.db import Database
from shared.local.fakes.base import ServedFake
from shared.local.fakes.github import create_app
from shared.models.events import PR_MERGED
from shared.settings import Settings
from tests.functional.merge.test_merge import PR, REPO, judged_run, post, run_row, seed, set_policy
from tests.functional.prompt_tune import test_prompt_tune as prompt_tune
from tests.support.cloudevents import post_timers_due
from tests.support.cut_after import CutDatabaseAt, served_cutting, through, time_passes
from tests.support.tcp_proxy import CuttableProxy


@pytest.fixture
def github(proxy: CuttableProxy) -> Iterator[tuple[ServedFake, CutDatabaseAt]]:
    with served_cutting(create_app(), proxy) as (served, wrapped):
        seed(served)
        yield served, wrapped


@pytest.fixture
def settings(
    database_url: str,
    proxy: CuttableProxy,
    tmp_path: Path,
    github: tuple[ServedFake, CutDatabaseAt],
    sink: tuple[str, list[dict[str, str]]],
) -> Settings:
    """The functions' settings: their database connections go through the proxy."""
    return Settings(
        database_url=through(proxy, database_url),
        data_dir=tmp_path,
        github_api_url=github[0].url,
        github_write_allowlist=[REPO, prompt_tune.REPO],
        llm_base_url=None,
        k_sink=sink[0],
    )


@pytest.fixture
def direct(database_url: str) -> Iterator[Database]:
    """The database without the proxy: the test's own view, unaffected by the cut."""
    database = Database(database_url, size=1)
    yield database
    database.close()


def _sent(fake: ServedFake, method: str, suffix: str) -> int:
    """Requests ``method … suffix`` that reached the fake (a cut-before request never does)."""
    requests = httpx.get(f"{fake.url}/_fake/requests").json()["requests"]
    return sum(1 for r in requests if r["method"] == method and r["path"].endswith(suffix))


def _state(fake: ServedFake) -> dict[str, Any]:
    return dict(httpx.get(f"{fake.url}/_fake/state").json())


def _pending_timers(db: Database) -> list[str]:
    with db.transaction() as tx:
        return [r["kind"] for r in tx.all("SELECT kind FROM runtime.timers WHERE done_at IS NULL")]


def _merge_writes(db: Database) -> list[tuple[str, str]]:
    with db.transaction() as tx:
        rows = tx.all("SELECT action, outcome FROM github.write_actions ORDER BY id")
    return [(r["action"], r["outcome"]) for r in rows]


def test_merge_killed_before_the_put_is_merged_once_by_the_next_tick(
    github: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    deps: Container,
    direct: Database,
    function_url: Any,
    sink: tuple[str, list[dict[str, str]]],
) -> None:
    set_policy(direct, dry_run=False)
    run_id = judged_run(deps)
    url = function_url("merge")
    github[1].before_call(lambda method, path: method == "PUT" and path.endswith("/merge"))

    first = post(url, run_id)

    assert first.status_code == 503, first.text
    assert _state(github[0])["merges"] == []
    proxy.restore()
    assert run_row(direct, run_id)["status"] == "merging"
    assert [k for k in _pending_timers(direct) if k.startswith("effect:merge:")]
    time_passes(direct)  # the decision is never redelivered (dead-lettered, or lost)

    tick = post_timers_due(url, "merge", "tick-1")

    assert tick.status_code == 202, tick.text
    assert len(_state(github[0])["merges"]) == 1
    assert _sent(github[0], "PUT", f"/pulls/{PR}/merge") == 1
    assert run_row(direct, run_id) == {"status": "completed", "reason": "merged"}
    assert [h["ce-type"] for h in sink[1]] == [PR_MERGED]
    assert _pending_timers(direct) == []


def test_merge_whose_record_was_lost_after_github_merged_is_recorded_without_a_second_put(
    github: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    deps: Container,
    direct: Database,
    function_url: Any,
    sink: tuple[str, list[dict[str, str]]],
) -> None:
    set_policy(direct, dry_run=False)
    run_id = judged_run(deps)
    url = function_url("merge")
    github[1].after_answer(lambda method, path: method == "PUT" and path.endswith("/merge"))

    first = post(url, run_id)

    assert first.status_code == 503, first.text
    assert len(_state(github[0])["merges"]) == 1  # GitHub merged; the record was lost
    proxy.restore()
    time_passes(direct)

    tick = post_timers_due(url, "merge", "tick-1")
    again = post(url, run_id, "evt-1")  # a late redelivery answers the same reply

    assert tick.status_code == 202, tick.text
    assert len(_state(github[0])["merges"]) == 1
    assert _sent(github[0], "PUT", f"/pulls/{PR}/merge") == 1
    assert run_row(direct, run_id) == {"status": "completed", "reason": "merged"}
    assert ("merge", "already_merged") in _merge_writes(direct)
    assert [h["ce-type"] for h in sink[1]] == [PR_MERGED]
    assert again.status_code == 200 and again.headers["ce-type"] == PR_MERGED
    assert again.headers["ce-id"] == sink[1][0]["ce-id"]
    merged = json.loads(again.content)
    assert merged["merge_commit_sha"] == _state(github[0])["merges"][0]["merge_commit_sha"]
    assert _pending_timers(direct) == []


def _tuning_state(fake: ServedFake) -> None:
    """The fake GitHub as prompt-tune's tests see it: the base branch's template files."""
    contents = {
        prompt_tune.TEMPLATE: {"content": "You are Codex. Implement the issue.\n"},
        ".github/pull_request_template.md": {"content": "## Summary\n\n## Tests\n"},
    }
    httpx.put(
        f"{fake.url}/_fake/state", json={"contents": {prompt_tune.REPO: {"main": contents}}}
    ).raise_for_status()


def _proposals(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as tx:
        return tx.all("SELECT state, pr_number, error FROM codex_judge.prompt_tuning")


def test_prompt_tuning_pr_opened_before_its_record_was_lost_is_recorded_by_the_next_tick(
    github: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    direct: Database,
    function_url: Any,
) -> None:
    _tuning_state(github[0])
    runs = prompt_tune._seed(direct, 3)
    url = function_url("prompt_tune")
    github[1].after_answer(lambda method, path: method == "POST" and path.endswith("/pulls"))

    first = prompt_tune._post(url, "evt-1", runs[-1])

    assert first.status_code == 503, first.text
    (created,) = _state(github[0])["created_pulls"]  # GitHub opened it; the cooldown row lost
    proxy.restore()
    assert _proposals(direct) == []
    time_passes(direct)  # the decision is never redelivered

    tick = post_timers_due(url, "prompt-tune", "tick-1")

    assert tick.status_code == 202, tick.text
    assert [p["number"] for p in _state(github[0])["created_pulls"]] == [created["number"]]
    assert _proposals(direct) == [
        {"state": "opened", "pr_number": created["number"], "error": None}
    ]
    assert _sent(github[0], "POST", "/git/refs") == 1
    assert _pending_timers(direct) == []
    # The cooldown holds: another decision opens nothing.
    assert prompt_tune._post(url, "evt-2", runs[0]).status_code == 202
    assert len(_state(github[0])["created_pulls"]) == 1


def test_prompt_tuning_redelivered_after_the_branch_was_created_opens_one_pr(
    github: tuple[ServedFake, CutDatabaseAt],
    proxy: CuttableProxy,
    direct: Database,
    function_url: Any,
) -> None:
    _tuning_state(github[0])
    runs = prompt_tune._seed(direct, 3)
    url = function_url("prompt_tune")
    github[1].after_answer(lambda method, path: method == "POST" and path.endswith("/git/refs"))

    first = prompt_tune._post(url, "evt-1", runs[-1])

    assert first.status_code == 503, first.text
    proxy.restore()
    time_passes(direct)

    again = prompt_tune._post(url, "evt-1", runs[-1])

    assert again.status_code == 202, again.text
    (created,) = _state(github[0])["created_pulls"]
    assert _sent(github[0], "POST", "/pulls") == 1
    assert _proposals(direct) == [
        {"state": "opened", "pr_number": created["number"], "error": None}
    ]
    assert _pending_timers(direct) == []
