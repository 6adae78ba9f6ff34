"""Stop signals for a blocking Flow: SIGINT/SIGTERM without locks in the signal handler.

A Python-level signal handler runs only in the main thread, between two bytecodes. When the
kernel delivers SIGTERM to another thread (as it does when the main thread already has SIGINT
pending), a main thread asleep in `threading.Event.wait()` is never woken to run it: the CLI
hung for good. And a handler calling `Event.set()` may interrupt the main thread inside that
same Event's lock. So nothing is done in a Python handler: the C-level handler writes the
signal number to a wakeup pipe (`signal.set_wakeup_fd`) from whichever thread got it, and a
helper thread reads it and acts: the first signal asks for a graceful stop, a second Ctrl-C
escalates to an immediate one.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, Self

__all__ = ["StopSignals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """While entered (main thread only): the first SIGINT/SIGTERM sets `stop`; a SIGINT after
    that calls `escalate` (once). Handlers stay installed until exit, so a signal arriving
    while the Flow stops never interrupts the stop half-way."""

    def __init__(self, stop: threading.Event, escalate: Callable[[], None]) -> None:
        self.stop = stop
        self.escalate = escalate
        self._previous: dict[int, Any] = {}
        self._pipe: tuple[int, int] | None = None
        self._previous_fd = -1
        self._thread: threading.Thread | None = None

    @staticmethod
    def _handler(signum: int, frame: FrameType | None) -> None:
        """Nothing: the wakeup pipe carries the signal (a handler must be set for it to)."""

    def _react(self) -> None:
        assert self._pipe is not None
        escalated = False
        while True:
            data = os.read(self._pipe[0], 64)
            if not data:
                return  # write end closed: we are done
            for signum in data:
                if not self.stop.is_set():
                    self.stop.set()
                elif signum == signal.SIGINT and not escalated:
                    escalated = True
                    self.escalate()

    def __enter__(self) -> Self:
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be installed from the main thread
        r, w = os.pipe()
        os.set_blocking(w, False)
        self._pipe = (r, w)
        self._previous_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._react, name="stop-signals", daemon=True)
        self._thread.start()
        self._previous = {s: signal.signal(s, self._handler) for s in _SIGNALS}
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
        if self._pipe is not None:
            signal.set_wakeup_fd(self._previous_fd)
            r, w = self._pipe
            os.close(w)
            assert self._thread is not None
            self._thread.join(5)
            os.close(r)
            self._pipe = None
