"""Executors that misbehave on purpose, for the fault tests (`tests/integration/test_faults_*`).
Importable by the executor processes the tests start, like `toy_executors`."""

from __future__ import annotations

import os

from toy_executors import Slow

from flowserve import Document, Executor, requests


class DeepReply(Executor):
    """On /deep: replies with a document whose chunks nest `depth` levels (deeper than
    protobuf's decoding limit of 100 by default). Elsewhere: docs unchanged."""

    def __init__(self, depth: int = 120, **kwargs):
        super().__init__(**kwargs)
        self.depth = depth

    @requests(on="/deep")
    def deep(self, docs, **kwargs):
        for d in docs:
            current = d
            for i in range(self.depth):
                child = Document(text=str(i))
                current.chunks.append(child)
                current = child

    @requests
    def ok(self, docs, **kwargs):
        return None


class Fails(Executor):
    """On /fail: raises; elsewhere: docs unchanged."""

    @requests(on="/fail")
    def fail(self, docs, **kwargs):
        raise RuntimeError("failing on purpose")

    @requests
    def ok(self, docs, **kwargs):
        return None


class ExitsOnPoison(Executor):
    """On /poison: the process exits at once (a handler that kills its replica)."""

    @requests(on="/poison")
    def poison(self, docs, **kwargs):
        os._exit(3)

    @requests
    def ok(self, docs, **kwargs):
        for d in docs:
            d.tags["pid"] = float(os.getpid())


class SlowInit(Executor):
    """Takes `seconds` in `__init__` (a slow model load); says so on stderr when it starts."""

    def __init__(self, seconds: float = 300.0, **kwargs):
        super().__init__(**kwargs)
        import sys
        import time

        print("slow init started", file=sys.stderr, flush=True)
        time.sleep(seconds)


class Hangs(Executor):
    """On /hang: never returns (on the handler thread); on /block: an async handler that
    blocks the event loop for good; elsewhere: docs unchanged."""

    @requests(on="/hang")
    def hang(self, docs, **kwargs):
        import sys
        import threading

        print("handler hangs", file=sys.stderr, flush=True)
        threading.Event().wait()

    @requests(on="/block")
    async def block(self, docs, **kwargs):
        import threading

        threading.Event().wait()

    @requests
    def ok(self, docs, **kwargs):
        for d in docs:
            d.tags["pid"] = float(os.getpid())


class SlowCounted(Slow):
    """`Slow`, printing each doc's id to stderr once processed."""

    @requests
    def slow(self, docs, **kwargs):
        import sys

        super().slow(docs, **kwargs)
        for d in docs:
            print(f"processed {d.id}", file=sys.stderr, flush=True)


class HoldsFirstAttempt(Executor):
    """On /hold: the first attempt at each doc writes this process's pid to
    ``marker_dir/<doc id>``, then takes `hold` seconds (time for a test to freeze or kill this
    replica while it runs the request); a later attempt at the same doc (a retry, on another
    replica) answers at once. Elsewhere: at once. Every answer tags the doc with the pid that
    answered."""

    def __init__(self, marker_dir: str, hold: float = 60.0, **kwargs):
        super().__init__(**kwargs)
        self.marker_dir = marker_dir
        self.hold = hold

    @requests(on="/hold")
    def hold_first(self, docs, **kwargs):
        import time

        for d in docs:
            try:
                fd = os.open(os.path.join(self.marker_dir, d.id),
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                continue  # a retry: the first attempt is frozen or gone
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(self.hold)
        self.work(docs)

    @requests
    def work(self, docs, **kwargs):
        for d in docs:
            d.tags["pid"] = float(os.getpid())
