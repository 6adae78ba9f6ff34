"""Headless Chromium for integration tests that render a page (a plain module, not a conftest)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("headless Chromium is needed for this test and is missing: "
                    "install Debian's package (apt-get install -y chromium); "
                    "scripts/test.sh installs it when run as root")
    return path


def browse(url: str, tmp: Path, *extra: str) -> str:
    """Load `url` in headless Chromium, let the page run for ~3 s (virtual time), return
    stdout."""
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={tmp}",
            "--virtual-time-budget=3000", *extra, url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
