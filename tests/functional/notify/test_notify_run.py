"""``codex-judge notify-run`` (issue 13, the producing side): the payload built from a run's
own files reaches the real notify function over HTTP; a notify that answers 503 is retried with
backoff; one that never answers costs bounded tries and still exits 0 with the payload written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from shared.adapters.notify_client import post_notify
from shared.agents.enrichment import RunFiles, build_payload
from shared.cli.main import main
from shared.db import Database
from shared.local.fakes.base import serve_fake

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "codex-exec"
EVENTS = CORPUS / "docs-sample.openai-codex.jsonl"
UID = "5b0e8c1e-6f0a-4b51-9a39-2f1f0f2d9c10"


def run_files(tmp_path: Path) -> list[str]:
    """The wrapper's files and the command line naming them."""
    (tmp_path / "implementation.log").write_text("step 1\nTraceback (most recent call last):\n")
    (tmp_path / "status.json").write_text('{"exit_code": 1, "phase": "failed"}')
    (tmp_path / "prompt.md").write_text("Fix issue 12: the README link.\n")
    return [
        "--workflow-uid", UID, "--repository", "octo/widgets", "--issue-number", "12",
        "--head-sha", "c" * 40, "--events", str(EVENTS),
        "--log", str(tmp_path / "implementation.log"), "--log", str(tmp_path / "missing.log"),
        "--status", str(tmp_path / "status.json"), "--prompt", str(tmp_path / "prompt.md"),
        "--out", str(tmp_path / "out" / "notify.json"),
    ]  # fmt: skip


def test_the_payload_from_the_runs_files_is_merged_into_its_run(
    function_url: Any, db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["notify-run", "--url", function_url("notify"), *run_files(tmp_path)]) == 0
    with db.transaction() as tx:
        row = tx.one("SELECT * FROM codex_judge.runs WHERE workflow_uid = :uid", uid=UID)
    assert row is not None and row["status"] == "notified"
    stored = row["notify_payload"]
    assert stored["repository"] == "octo/widgets" and stored["issue_number"] == 12
    assert stored["summary"].endswith("a `README.md` in the repository root.")  # last message
    assert stored["prompt"].startswith("Fix issue 12")
    assert "==> implementation.log <==" in stored["log_excerpt"]
    assert stored["run_status"] == {"exit_code": 1, "phase": "failed"}
    assert stored["notify_run_errors"] == ["missing.log: No such file or directory"]
    written = json.loads((tmp_path / "out" / "notify.json").read_text())
    assert written["summary"] == stored["summary"] and len(written["events"]) == 8
    report = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["notify_run"]
    assert report["delivered"] is True and report["attempts"] == 1


@pytest.fixture
def flaky() -> Iterator[tuple[str, list[int]]]:
    """A notify stand-in that answers 503 twice (Retry-After 0), then 202."""
    answers = [503, 503, 202]
    seen: list[int] = []

    @Request.application  # type: ignore[misc]
    def app(request: Request) -> Response:
        status = answers[min(len(seen), len(answers) - 1)]
        seen.append(status)
        return Response("{}", status=status, headers={"Retry-After": "0"})

    served = serve_fake(app)
    yield f"{served.url}/", seen
    served.stop()


def test_a_503_is_retried_with_the_servers_retry_after_until_delivered(
    flaky: tuple[str, list[int]],
) -> None:
    url, seen = flaky
    waits: list[float] = []
    delivery = post_notify(url, {"workflow_uid": UID}, attempts=4, sleep=waits.append)
    assert delivery.delivered and delivery.attempts == 3 and seen == [503, 503, 202]
    assert waits == [0.0, 0.0]


def test_an_unreachable_notify_costs_bounded_backed_off_tries_and_never_fails_the_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    waits: list[float] = []
    refused = httpx.MockTransport(lambda request: (_ for _ in ()).throw(httpx.ConnectError("x")))
    delivery = post_notify(
        "http://notify.invalid/", {"workflow_uid": UID}, attempts=4, backoff_s=1.0,
        sleep=waits.append, transport=refused,
    )  # fmt: skip
    assert not delivery.delivered and delivery.attempts == 4 and delivery.status is None
    assert waits == [1.0, 2.0, 4.0]
    argv = ["notify-run", "--url", "http://127.0.0.1:9/", "--attempts", "1", *run_files(tmp_path)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["notify_run"]
    assert report["delivered"] is False and report["written"].endswith("notify.json")


def test_a_refused_payload_is_not_retried() -> None:
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(422, json={"error": "workflow_uid: field required"})

    delivery = post_notify(
        "http://notify/", {}, attempts=4, sleep=lambda _: None,
        transport=httpx.MockTransport(answer),
    )  # fmt: skip
    assert not delivery.delivered and delivery.status == 422 and len(calls) == 1


def test_a_payload_over_the_budget_drops_the_oldest_events_first(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(json.dumps({"type": "turn.started", "n": i, "pad": "x" * 200}) + "\n"
                for i in range(500))
    )  # fmt: skip
    payload = build_payload(RunFiles(UID, events=events), max_bytes=20_000)
    assert len(json.dumps(payload).encode()) <= 20_000
    assert payload["events"][-1]["n"] == 499 and payload["events"][0]["n"] > 0
    assert "oldest event(s) dropped" in payload["notify_run_errors"][0]
