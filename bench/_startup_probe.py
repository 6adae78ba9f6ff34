"""One start-up measurement of bench/startup.py, in a process of its own.

    STARTUP_PROBE=flowserve python bench/_startup_probe.py N
    STARTUP_PROBE=jina /tmp/flowserve-jina-venv/bin/python bench/_startup_probe.py N

Imports the framework named by $STARTUP_PROBE (the executor's module is this file, which each
flowserve executor process imports again: hence the environment variable rather than an
argument), builds a Flow of N no-op executors in a chain with a gRPC gateway on 127.0.0.1,
enters it, posts one document and prints one line ``RESULT {json}`` with the seconds each step
took: ``import``, ``build`` (Flow() and add()), ``enter`` (the ``with`` statement: Jina's ready)
and ``first`` (from entering to the first answer: entering, a client, one request). Then it
leaves the Flow and prints ``STOPPED <seconds>``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

T0 = time.perf_counter()
FRAMEWORK = os.environ.get("STARTUP_PROBE", "flowserve")
if FRAMEWORK == "jina":
    os.environ.setdefault("JINA_OPTOUT_TELEMETRY", "1")
    from jina import Document, Executor, Flow, requests
else:
    from flowserve import Document, Executor, Flow, requests  # type: ignore[assignment]
T_IMPORT = time.perf_counter() - T0


class Noop(Executor):  # type: ignore[misc]
    """A handler that returns None: the docs go back unchanged."""

    @requests  # type: ignore[misc]
    def noop(self, docs: Any, **kwargs: Any) -> None:
        return None


def main() -> None:
    n = int(sys.argv[1])
    t = time.perf_counter()
    flow = Flow(protocol="grpc", host="127.0.0.1")
    for i in range(n):
        flow = flow.add(name=f"noop{i}", uses=Noop)
    built = time.perf_counter()
    flow.__enter__()
    entered = time.perf_counter()
    try:
        flow.post("/", inputs=[Document(text="x")])
        answered = time.perf_counter()
        print("RESULT " + json.dumps({
            "import": T_IMPORT, "build": built - t, "enter": entered - built,
            "first": answered - built}), flush=True)
    finally:
        flow.__exit__(None, None, None)
    print(f"STOPPED {time.perf_counter() - answered:.3f}", flush=True)


if __name__ == "__main__":
    main()
