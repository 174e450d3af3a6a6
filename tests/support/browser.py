"""Headless Debian Chromium through Playwright for browser tests (never Playwright's own
browser download). Without Chromium the tests skip, unless ``AUDITLEDGER_REQUIRE_BROWSER=1``
(CI), which fails them instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REQUIRE_BROWSER = os.environ.get("AUDITLEDGER_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("AUDITLEDGER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Bounds that hold with both cores busy: a quiet machine answers in well under a second.
ACTION_TIMEOUT_MS = 60_000


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (skips or fails the test when there is none)."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}"
        if REQUIRE_BROWSER:
            pytest.fail(message + " (AUDITLEDGER_REQUIRE_BROWSER=1)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, *, javascript: bool = True) -> tuple[Any, Any]:
    """A fresh context (no cookies) and its page, with generous timeouts."""
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1360, "height": 900}
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    return context, context.new_page()
