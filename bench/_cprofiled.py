"""Run a module under cProfile (thread CPU time), profiling only between SIGUSR1 and SIGUSR2.

    python bench/_cprofiled.py OUT_PREFIX -m flowserve gateway ...
    python bench/_cprofiled.py OUT_PREFIX bench/_raw_chain.py echo

SIGUSR1 starts a fresh profile of the main thread (CPU time of that thread, `time.thread_time`,
so waiting is not counted); SIGUSR2 stops it and writes ``OUT_PREFIX-<n>.prof`` (n = 0, 1, ...).
bench/overhead.py --cprofile uses this to profile the Flow's gateway and executor processes
during each scenario only, without their start-up.
"""

from __future__ import annotations

import cProfile
import os
import runpy
import signal
import sys
import time


def main() -> None:
    if len(sys.argv) < 3 or (sys.argv[2] == "-m" and len(sys.argv) < 4):
        raise SystemExit(__doc__)
    prefix = sys.argv[1]
    if sys.argv[2] == "-m":
        module, script, args = sys.argv[3], None, sys.argv[4:]
    else:
        module, script, args = None, sys.argv[2], sys.argv[3:]
    state: dict[str, object] = {"prof": None, "n": 0}

    def start(*_: object) -> None:
        if state["prof"] is None:
            prof = cProfile.Profile(time.thread_time)
            state["prof"] = prof
            prof.enable()

    def stop(*_: object) -> None:
        prof = state["prof"]
        if isinstance(prof, cProfile.Profile):
            prof.disable()
            path = f"{prefix}-{state['n']}.prof"
            prof.dump_stats(path + ".tmp")
            os.replace(path + ".tmp", path)  # appears complete or not at all
            state["n"] = int(state["n"]) + 1  # type: ignore[call-overload]
            state["prof"] = None

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    if script is not None:
        sys.argv = [script, *args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        runpy.run_path(script, run_name="__main__")
    else:
        assert module is not None
        sys.argv = [module, *args]
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
