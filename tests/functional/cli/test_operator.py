"""``codex-judge approve|rerun|cancel RUN`` and ``codex-judge dead-letters list|replay`` against
a real Postgres and a Broker stand-in: the api's code path, the actor, exactly once per key."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.cli.main import main
from shared.db import Database
from tests.support.api_seed import Sink, recording_broker, seed_dead_letter, seed_run


@pytest.fixture
def broker() -> Iterator[Sink]:
    with recording_broker() as sink:
        yield sink


@pytest.fixture
def cli(
    database_url: str, tmp_path: Path, broker: Sink, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CODEX_JUDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CODEX_JUDGE_K_SINK", broker.url)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    db = Database(database_url, size=2)
    yield db
    db.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def _out(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    return dict(json.loads(capsys.readouterr().out))


def test_approve_from_the_command_line_acts_once_per_key(
    cli: Database, broker: Sink, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = seed_run(cli)
    args = ["approve", str(run_id), "--key", "ops-1", "--actor", "cli:ops", "--comment", "ok"]
    assert main(args) == 0
    first = _out(capsys)
    assert (first["outcome"], first["actor"], first["duplicate"]) == ("approved", "cli:ops", False)
    assert main(args) == 0
    assert _out(capsys)["duplicate"] is True
    assert len(broker.received) == 1
    assert broker.received[0][0]["ce-decision"] == "pass"
    assert main(["cancel", str(run_id)]) == 1  # merging: refused, nothing in flight is cut
    assert _out(capsys)["outcome"] == "refused"


def test_rerun_and_cancel_from_the_command_line(
    cli: Database, broker: Sink, capsys: pytest.CaptureFixture[str]
) -> None:
    human = seed_run(cli, issue=1)
    waiting = seed_run(cli, issue=2, status="waiting_for_ci", decision=None, reason=None)
    assert main(["rerun", str(human), "--prompt", "smaller change"]) == 0
    assert _out(capsys)["run_status"] == "needs_iteration"
    assert json.loads(broker.received[0][1])["next_prompt"] == "smaller change"
    assert main(["cancel", str(waiting)]) == 0
    assert _out(capsys)["run_status"] == "superseded"
    assert main(["approve", "424242"]) == 1
    assert _out(capsys)["outcome"] == "not_found"


def test_dead_letters_list_and_replay(
    cli: Database, broker: Sink, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = seed_dead_letter(cli, event_id="ev-7")
    assert main(["dead-letters", "list", "--json"]) == 0
    page = _out(capsys)
    assert [d["event_id"] for d in page["items"]] == ["ev-7"]  # type: ignore[index, union-attr]
    assert main(["dead-letters", "replay", str(dead)]) == 0
    assert _out(capsys)["outcome"] == "replayed"
    assert [h["ce-id"] for h, _ in broker.received] == ["ev-7"]
    assert main(["dead-letters", "list"]) == 0
    assert "replayed" in capsys.readouterr().out


def test_rerun_of_a_needs_iteration_run_from_the_command_line_acts_once_per_key(
    cli: Database, broker: Sink, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = seed_run(cli, status="needs_iteration", decision="needs_iteration", reason="ci_failed")
    args = ["rerun", str(run_id), "--key", "it-1", "--prompt", "smaller change"]
    assert main(args) == 0
    first = _out(capsys)
    assert (first["outcome"], first["run_status"]) == ("rerun_requested", "needs_iteration")
    assert main(args) == 0
    assert _out(capsys)["duplicate"] is True
    ((headers, body),) = broker.received
    assert headers["ce-decision"] == "needs_iteration"
    assert json.loads(body)["next_prompt"] == "smaller change"
    assert main(["rerun", "424242"]) == 1
    assert _out(capsys)["outcome"] == "not_found"
