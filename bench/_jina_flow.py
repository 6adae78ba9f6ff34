"""The Jina 3.34 side of bench/many_clients.py: run INSIDE the Jina virtualenv, not flowserve's.

    /tmp/flowserve-jina-venv/bin/python bench/_jina_flow.py --kind noop|sleep2ms --port PORT

Starts a Jina Flow (gRPC gateway on 127.0.0.1:PORT, default settings otherwise) with one
executor of `--replicas` replicas (default 2): `noop` returns None, `sleep2ms` sleeps 2 ms per
request (synchronously, as flowserve's side does). Prints one line ``READY <port> <pid>`` when
the Flow is up, then blocks until SIGTERM/SIGINT, when it closes the Flow. The benchmark starts
it in a process group of its own and kills that group (SIGTERM, then SIGKILL) when done.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

os.environ.setdefault("JINA_OPTOUT_TELEMETRY", "1")

from jina import Executor, Flow, requests  # noqa: E402


class NoopJina(Executor):
    """`@requests` handler returning None: the docs go back unchanged."""

    @requests
    def noop(self, docs: Any, **kwargs: Any) -> None:
        return None


class Sleep2msJina(Executor):
    """Sleeps 2 ms per request (blocking, like a small model call)."""

    @requests
    def sleep(self, docs: Any, **kwargs: Any) -> None:
        time.sleep(0.002)


KINDS = {"noop": NoopJina, "sleep2ms": Sleep2msJina}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kind", choices=sorted(KINDS), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    flow = Flow(protocol="grpc", port=args.port, host="127.0.0.1").add(
        name=args.kind, uses=KINDS[args.kind], replicas=args.replicas, host="127.0.0.1")
    with flow:
        print(f"READY {args.port} {os.getpid()}", flush=True)
        while True:  # until SIGTERM / SIGINT (SystemExit closes the Flow)
            time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
