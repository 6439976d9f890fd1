"""The web UI in a real headless Chromium: log in, filter runs, open a run and follow its
timeline, open a pull request's Checks tab (grouped by commit), approve a needs_human run,
replay a dead letter, read and filter a repository's recorded policy findings. Each test leaves
screenshots in tests/browser/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.db import Database
from shared.gates.antigaming import Finding
from shared.gates.judge import GateReport
from shared.settings import Settings
from tests.browser.conftest import screenshot
from tests.support.api_seed import (
    OPERATOR,
    READ,
    Sink,
    api_settings,
    recording_broker,
    seed_checks,
    seed_dead_letter,
    seed_run,
)


@pytest.fixture
def broker() -> Iterator[Sink]:
    with recording_broker() as sink:
        yield sink


@pytest.fixture
def settings(database_url: str, tmp_path: Path, broker: Sink) -> Settings:
    return api_settings(database_url, tmp_path, k_sink=broker.url)


@pytest.fixture
def ui(function_url: Any) -> str:
    return str(function_url("api"))


def _log_in(page: Any, ui: str, token: str, path: str = "/ui/runs") -> None:
    page.goto(ui + path)
    assert page.get_by_role("heading", name="Log in").is_visible()
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_log_in_filter_runs_and_follow_a_runs_timeline(page: Any, ui: str, db: Database) -> None:
    seed_run(db, issue=1, status="completed", decision="pass", reason=None)
    seed_run(db, issue=2, status="needs_iteration", decision="needs_iteration", reason="ci_failed")
    human = seed_run(db, issue=3)
    _log_in(page, ui, READ)
    assert page.get_by_role("heading", name="Runs").is_visible()
    assert page.locator("table.runs tbody tr").count() == 3
    screenshot(page, "runs")
    page.get_by_label("Status").select_option("needs_human")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    rows = page.locator("table.runs tbody tr")
    assert rows.count() == 1 and "needs_human" in rows.first.inner_text()
    screenshot(page, "runs-filtered")
    page.get_by_role("link", name=f"#{human}", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=f"Run #{human}").is_visible()
    timeline = page.locator("section[aria-labelledby=timeline] tbody tr")
    assert timeline.count() == 2
    assert "ci-status" in timeline.nth(0).inner_text() and "judge" in timeline.nth(1).inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0  # read-only
    screenshot(page, "run")


def test_an_operator_approves_a_needs_human_run(
    page: Any, ui: str, db: Database, broker: Sink
) -> None:
    run_id = seed_run(db)
    _log_in(page, ui, OPERATOR, f"/ui/runs/{run_id}")
    page.get_by_label("Comment").first.fill("checked the diff by hand")
    page.get_by_role("button", name="Approve").click()  # the confirmation is accepted
    page.wait_for_load_state()
    assert "approved: approve by alice" in page.get_by_role("status").inner_text()
    assert "merging" in page.get_by_role("heading", name=f"Run #{run_id}").inner_text()
    assert len(broker.received) == 1 and broker.received[0][0]["ce-decision"] == "pass"
    screenshot(page, "run-approved")


def test_an_operator_replays_a_dead_letter(page: Any, ui: str, db: Database, broker: Sink) -> None:
    seed_dead_letter(db, event_id="ev-browser")
    _log_in(page, ui, OPERATOR, "/ui/dead-letters")
    assert page.get_by_role("heading", name="Dead letters").is_visible()
    screenshot(page, "dead-letters")
    page.get_by_role("button", name="Replay").click()
    page.wait_for_load_state()
    assert "replayed" in page.get_by_role("status").inner_text()
    assert [h["ce-id"] for h, _ in broker.received] == ["ev-browser"]
    screenshot(page, "dead-letters-replayed")


def test_a_pull_requests_checks_tab_groups_checks_by_commit_newest_first(
    page: Any, ui: str, db: Database
) -> None:
    first = seed_run(db, issue=1, attempt=1, status="needs_iteration", decision="needs_iteration")
    second = seed_run(db, issue=1, attempt=2)
    old_sha, new_sha = seed_checks(db, [first, second])
    _log_in(page, ui, READ, f"/ui/runs/{second}")
    page.get_by_role("link", name="#101", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="acme/widgets#101: Fix it").is_visible()
    page.get_by_role("link", name="Checks").click()
    page.wait_for_load_state()
    groups = page.locator("section.commit")
    assert groups.count() == 2
    assert new_sha[:12] in groups.nth(0).inner_text() and "success" in groups.nth(0).inner_text()
    assert old_sha[:12] in groups.nth(1).inner_text() and "failure" in groups.nth(1).inner_text()
    screenshot(page, "pull-checks")
    page.get_by_role("link", name="Judge").click()
    page.wait_for_load_state()
    assert page.locator("tbody tr").count() == 2
    screenshot(page, "pull-judge")


def test_a_repositorys_policy_page_shows_the_findings_recorded_and_filters_them(
    page: Any, ui: str, db: Database
) -> None:
    deleted = Finding(code="test_file_deleted", file="tests/test_a.py", message="test deleted")
    noqa = Finding(
        code="lint_suppression", file="a.py", line=3, message="# noqa", severity="warning"
    )
    older = seed_run(db, issue=1, inputs=GateReport(None, [deleted], [], "inventory").record())
    newer = seed_run(db, issue=2, inputs=GateReport(None, [], [noqa], "inventory").record())
    _log_in(page, ui, READ, f"/ui/runs/{newer}")
    page.get_by_role("link", name="policy", exact=True).click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Findings recorded").is_visible()
    table = page.locator("table.findings")
    assert "test_file_deleted" in table.inner_text() and "a.py:3" in table.inner_text()
    screenshot(page, "policy-findings")
    page.get_by_label("Code").fill("test_file_deleted")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert page.locator(f'table.findings a[href="/ui/runs/{older}"]').count() == 1
    assert page.locator(f'table.findings a[href="/ui/runs/{newer}"]').count() == 0
