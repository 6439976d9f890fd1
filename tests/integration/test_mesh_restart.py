"""The local supervisor restarts a killed function as the kubelet restarts a container: same
URL, a line in the logs, and events sent afterwards are processed (issue 10)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.db import Database
from shared.local.mesh import demo
from shared.local.mesh.replay import send
from shared.local.mesh.supervisor import Mesh
from shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mesh(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    data_dir: Path = tmp_path_factory.mktemp("mesh")
    settings = Settings(database_url=pg_admin_url, data_dir=data_dir)
    started = Mesh(settings, extra_env={"CODEX_JUDGE_LOG_LEVEL": "WARNING"}).start(
        database="cj_restart_mesh"
    )
    yield started
    started.stop()


def _wait_restarted(mesh: Mesh, name: str, old_pid: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        proc = mesh.processes[name].proc
        if proc is not None and proc.pid != old_pid:
            try:
                if httpx.get(mesh.functions[name], timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"{name} was not restarted within {timeout_s:.0f} s")


def test_killed_function_is_restarted_on_its_url_and_processes_later_events(
    mesh: Mesh, caplog: pytest.LogCaptureFixture
) -> None:
    url = mesh.functions["run-complete"]
    httpx.put(f"{mesh.fakes['github']}/_fake/state", json=demo.github_state()).raise_for_status()

    with caplog.at_level("WARNING", logger="codex_judge.mesh"):
        pid = mesh.kill("run-complete", signal.SIGKILL)
        _wait_restarted(mesh, "run-complete", pid)

    assert mesh.functions["run-complete"] == url
    assert mesh.processes["run-complete"].restarts == 1
    line = f"function run-complete exited with {-signal.SIGKILL}; restarting (restart #1)"
    assert any(line in r.getMessage() for r in caplog.records)
    assert line in mesh.processes["run-complete"].log_path.read_text()

    record = demo.completions()[0]
    with httpx.Client(timeout=30) as client:
        assert send(record, mesh.urls(), client)[1] == 202
    db = Database(mesh.database_url, size=1)
    try:
        deadline = time.monotonic() + 60
        row = None
        while row is None and time.monotonic() < deadline:
            with db.transaction() as tx:
                row = tx.one(
                    "SELECT id FROM codex_judge.runs WHERE workflow_uid = :uid",
                    uid=record["kafka"]["key"],
                )
            time.sleep(0.2)
    finally:
        db.close()
    assert row is not None, "the completion sent after the restart made no run"


def test_a_function_killed_twice_quickly_is_restarted_each_time(mesh: Mesh) -> None:
    for restart in (1, 2):
        pid = mesh.kill("dead-letter")
        _wait_restarted(mesh, "dead-letter", pid)
        assert mesh.processes["dead-letter"].restarts == restart
    assert httpx.get(mesh.functions["dead-letter"], timeout=5).status_code < 500
