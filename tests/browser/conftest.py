"""Browser tests of the web UI: Playwright driving a real headless Chromium — the system
``chromium`` package (``apt-get install chromium``; ``.ci/run`` installs it), found on PATH or
named by ``CODEX_JUDGE_CHROMIUM``. Where there is none, every test here is skipped with a
message saying how to run them. Screenshots of the main pages go to
``tests/browser/screenshots/`` (gitignored; the README names it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SCREENSHOTS = ROOT / "tests" / "browser" / "screenshots"
HOW = (
    "no Chromium for the browser tests: install the system package (apt-get install chromium)"
    " or point CODEX_JUDGE_CHROMIUM at a Chromium executable, then run"
    " `.venv/bin/python -m pytest tests/browser`"
)


def chromium_executable() -> str | None:
    """The Chromium to drive: ``CODEX_JUDGE_CHROMIUM``, else ``chromium`` on PATH."""
    named = os.environ.get("CODEX_JUDGE_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless Chromium for the browser tests (skips with :data:`HOW` where there is
    none). Package scope, not session: Playwright's sync API runs an event loop on the main
    thread until it stops, and the tests after these call ``asyncio.run``."""
    executable = chromium_executable()
    if executable is None:
        pytest.skip(HOW)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]'); " + HOW)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page; dialogs (confirmations) are accepted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())
    yield tab
    context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``tests/browser/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
