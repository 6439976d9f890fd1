"""The agents channel in a real headless Chromium (issue 15): a run's agent messages rendered
safely, a message stored while the page is open arrives live over SSE, and a reload shows every
message exactly once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.agents import store
from shared.agents.messages import agent_subject, to_row
from shared.db import Database
from shared.settings import Settings
from tests.browser.conftest import screenshot
from tests.browser.test_ui import _log_in
from tests.support.api_seed import READ, api_settings, seed_run

UID = "uid-acme/widgets-1-1"  # seed_run's workflow uid for issue 1, attempt 1


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # A closed page's stream notices within half a second.
    return api_settings(database_url, tmp_path, agents_sse_keepalive_s=0.5)


@pytest.fixture
def ui(function_url: Any) -> str:
    return str(function_url("api"))


def store_message(db: Database, n: int, kind: str, content: str) -> None:
    subject = agent_subject("argo", "codex-1-1", UID, "codex", kind)
    payload = json.dumps({"message_id": f"m{n}", "content": content}).encode()
    with db.transaction() as tx:
        store.insert_rows(tx, [to_row(subject, payload, {}, n)], "nats")


def test_a_message_arrives_live_and_a_reload_shows_each_once(
    page: Any, ui: str, db: Database
) -> None:
    run_id = seed_run(db, status="completed", decision="pass", reason=None)
    _log_in(page, ui, READ, f"/ui/runs/{run_id}")
    page.get_by_role("link", name="the agents' messages").click()  # from the run's page
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=f"Agents of run {run_id}").is_visible()
    store_message(db, 1, "message", "Reading the **README** first.")
    store_message(db, 2, "tool_call", "`ls`")
    store_message(
        db,
        3,
        "message",
        '<script>window.injected = 1</script><img src=x onerror="window.injected = 2">',
    )
    page.reload()
    messages = page.locator("#messages li.message")
    assert messages.count() == 3
    assert page.locator("#messages strong", has_text="README").count() == 1  # markdown
    assert page.locator("#messages details summary", has_text="tool_call").count() == 1  # folded
    assert page.evaluate("window.injected === undefined")  # agent content runs no script
    assert "<script>" in messages.nth(2).inner_text()  # shown as text
    page.get_by_text("Live").wait_for(timeout=10_000)

    store_message(db, 4, "message", "Done: the title is *fixed*.")
    page.locator("#messages em", has_text="fixed").wait_for(timeout=10_000)  # live, no reload
    assert messages.count() == 4
    screenshot(page, "agents-live")

    page.reload()
    page.wait_for_load_state()
    store_message(db, 5, "status", "turn.completed")
    page.locator("#messages li.message", has_text="turn.completed").wait_for(timeout=15_000)
    ids = page.eval_on_selector_all("#messages li.message", "items => items.map(i => i.dataset.id)")
    assert len(ids) == 5 and len(set(ids)) == 5  # nothing lost, nothing twice
    page.goto(ui + "/ui/agents")
    assert page.get_by_role("link", name=f"run {run_id}").is_visible()
