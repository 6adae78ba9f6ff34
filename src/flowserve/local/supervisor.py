"""Self-healing for a local Flow: restart processes that die, with backoff; report crash loops.

One watcher thread per child blocks in `wait()` (no polling) and, unless the Flow is stopping,
restarts the child on the same port after a backoff that doubles with each exit in a short
window. A child that keeps exiting is reported as crash-looping, with its exit code and last
output lines, and is still retried at the longest backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from ..errors import FlowStartError
from .process import ChildProcess, wait_all_ready

__all__ = ["Supervisor"]

log = logging.getLogger("flowserve.local")


class Supervisor:
    """Watches children of a running Flow and restarts the ones that exit."""

    def __init__(self, *, ready_timeout: float, base_delay: float = 0.5, max_delay: float = 30.0,
                 window: float = 60.0, crash_loop_after: int = 3) -> None:
        self.ready_timeout = ready_timeout
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.window = window
        self.crash_loop_after = crash_loop_after
        self.stopping = threading.Event()
        self.lock = threading.Lock()  # held while a child is (re)started or stopped
        self.restarts: dict[str, int] = {}
        self._threads: list[threading.Thread] = []

    def watch(self, child: ChildProcess) -> None:
        thread = threading.Thread(target=self._watch, args=(child,), name=f"watch-{child.name}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()

    def _watch(self, child: ChildProcess) -> None:
        exits: deque[float] = deque()
        while True:
            code = child.wait()
            if self.stopping.is_set():
                return
            now = time.monotonic()
            exits.append(now)
            while exits and now - exits[0] > self.window:
                exits.popleft()
            delay = min(self.max_delay, self.base_delay * 2 ** (len(exits) - 1))
            tail = "\n".join(f"    {line}" for line in list(child.last_lines)[-10:])
            if len(exits) >= self.crash_loop_after:
                log.error("%s is crash-looping: exited with code %s %d times in %.0f s; "
                          "next restart in %.1f s; last output:\n%s", child.name, code,
                          len(exits), self.window, delay, tail or "    (no output)")
            else:
                log.warning("%s exited with code %s; restarting in %.1f s", child.name, code,
                            delay)
            if self.stopping.wait(delay):
                return
            with self.lock:
                if self.stopping.is_set():
                    return
                try:
                    child.restart()
                    wait_all_ready([child], self.ready_timeout)
                except (FlowStartError, OSError) as exc:
                    log.error("restarting %s failed: %s", child.name, exc)
                    continue
            self.restarts[child.name] = self.restarts.get(child.name, 0) + 1
            log.warning("%s restarted (pid %s)", child.name, child.pid)

    def stop(self) -> None:
        """No more restarts; the caller then stops the children."""
        self.stopping.set()

    def join(self, timeout: float = 10.0) -> None:
        for thread in self._threads:
            thread.join(timeout)
