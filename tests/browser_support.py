"""Debian's Chromium, headless: the command that renders a page, dumps its DOM and saves a
screenshot. A missing ``chromium`` fails the test (CI installs it with apt)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium() -> str:
    """The chromium binary; fails the test when it is not installed."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is not installed (Debian: apt-get install -y chromium)")


def render_command(url: str, profile: Path, screenshot: Path, budget_ms: int, window: str, *extra: str) -> List[str]:
    """Open ``url`` headless in a throwaway ``profile``, let its scripts run for ``budget_ms`` of
    virtual time, save ``screenshot`` and print the DOM on stdout."""
    return [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={window}",
        *extra,
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={screenshot}",
        "--dump-dom",
        url,
    ]
