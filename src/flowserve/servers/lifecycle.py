"""Process lifecycle shared by worker and gateway processes: stop signals and readiness."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

__all__ = ["install_stop_signals", "notify_ready"]


def install_stop_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGTERM or SIGINT (Ctrl-C) so the process drains instead of dying."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def notify_ready(ready_fd: int | None, info: dict[str, Any]) -> None:
    """Tell the parent orchestrator this process is ready, by one JSON line on `ready_fd`."""
    if ready_fd is None:
        return
    try:
        os.write(ready_fd, (json.dumps(info) + "\n").encode())
    finally:
        os.close(ready_fd)
