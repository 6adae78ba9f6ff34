"""Faults #4: stop signals of a blocking Flow never deadlock (no sockets, no sleeps)."""

from __future__ import annotations

import os
import signal
import threading

from flowserve.local.signals import StopSignals


def test_first_signal_stops_a_second_ctrl_c_escalates_once() -> None:
    stop, escalated = threading.Event(), threading.Event()
    calls: list[int] = []

    def escalate() -> None:
        calls.append(1)
        escalated.set()

    previous = signal.getsignal(signal.SIGINT)
    with StopSignals(stop, escalate):
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(30)
        assert not escalated.is_set()
        os.kill(os.getpid(), signal.SIGTERM)  # SIGTERM again: still a graceful stop
        os.kill(os.getpid(), signal.SIGINT)
        assert escalated.wait(30)
        os.kill(os.getpid(), signal.SIGINT)
    assert calls == [1]
    assert signal.getsignal(signal.SIGINT) is previous


def test_a_signal_while_the_stop_event_lock_is_held_does_not_deadlock() -> None:
    """The old handler called `stop.set()` in the main thread: with the Event's lock held
    there (as inside `Event.set()`), it blocked for good."""
    stop = threading.Event()
    with StopSignals(stop, lambda: None):
        with stop._cond:  # what the main thread holds while inside Event.set()/wait()
            os.kill(os.getpid(), signal.SIGINT)
        assert stop.wait(30)


def test_outside_the_main_thread_it_installs_nothing() -> None:
    seen: list[object] = []

    def run() -> None:
        with StopSignals(threading.Event(), lambda: None) as s:
            seen.append(s._pipe)

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert seen == [None]
