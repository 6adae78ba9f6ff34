"""The handler timeout's last resort: end the process when a handler blocks the event loop.

A handler on the handler thread, or an async one that awaits, is timed out by the runtime
itself (`ExecutorRuntime(handler_timeout=...)`): its request gets an error and the process
restarts. A handler that blocks the event loop (an inline sync handler that suddenly hangs, an
async handler calling blocking code) stops everything, timers included, so only another thread
can notice: the loop beats once a second, and when it has missed its beats for longer than the
timeout while a handler runs, this thread ends the process (exit code `EXIT_WEDGED`) for the
supervisor or Kubernetes to restart it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable

__all__ = ["EXIT_WEDGED", "LoopWatchdog"]

EXIT_WEDGED = 70  # EX_SOFTWARE: a handler never returned; restart me

log = logging.getLogger(__name__)


def exit_wedged(message: str) -> None:
    """Log `message`, flush, and end the process at once (a stuck thread cannot be joined)."""
    log.error("%s", message)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(EXIT_WEDGED)


class LoopWatchdog:
    """Ends the process when the loop missed its beats for `limit` seconds while `busy()`."""

    def __init__(self, limit: float, busy: Callable[[], bool], *, what: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.busy = busy
        self.what = what
        self.clock = clock
        self._beat = clock()
        self._stop = threading.Event()
        self._handle: asyncio.TimerHandle | None = None

    def _on_beat(self) -> None:
        self._beat = self.clock()
        self._handle = asyncio.get_running_loop().call_later(1.0, self._on_beat)

    def stalled(self) -> bool:
        return self.busy() and self.clock() - self._beat > self.limit

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            if self.stalled():
                exit_wedged(f"{self.what}: a handler has blocked the event loop for more than "
                            f"{self.limit:g} s (timeout_handler); exiting so the replica "
                            "restarts")

    def start(self) -> None:
        """Start beating (call inside the running loop) and watching."""
        self._on_beat()
        threading.Thread(target=self._watch, name="loop-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
