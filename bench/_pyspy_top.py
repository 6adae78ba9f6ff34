"""Summarise py-spy ``--format raw`` (collapsed stacks) files: where the samples went.

    python bench/_pyspy_top.py /tmp/prof/seq-gateway.txt [--top 25] [--filter flowserve/]

Prints, for functions whose file path contains ``--filter``: inclusive share (the function or
anything it calls was running), the innermost matching frame, and self share (innermost frame
of any file), as shares of the busy samples (samples waiting in epoll/poll are dropped).
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = []
        for raw in stack.split(";"):
            m = FRAME.match(raw)
            frames.append(f"{m['file']}:{m['func']}" if m else raw)
        stacks.append((frames, int(count)))
    return stacks


# Innermost frames that mean "waiting", not working: the event loop's epoll, gRPC's poller
# thread (its C poll shows as Thread.run without --native), native epoll/futex waits.
IDLE = ("selectors.py:EpollSelector.select", "threading.py:Thread.run", "epoll_wait",
        "threading.py:Condition.wait", "pthread_cond_wait", "futex", "select_epoll_poll_impl",
        # the executor's handler thread blocked on its work queue
        "concurrent/futures/thread.py:_worker")


def is_idle(frames: list[str]) -> bool:
    leaf = frames[-1]
    return any(leaf.endswith(marker) or leaf.startswith("libc.so.6:" + marker)
               for marker in IDLE)


def summarise(path: Path, top: int, needle: str, keep_idle: bool = False) -> None:
    stacks = load(path)
    all_samples = sum(c for _, c in stacks) or 1
    if not keep_idle:
        stacks = [(f, c) for f, c in stacks if not is_idle(f)]
    total = sum(c for _, c in stacks) or 1
    inclusive: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()  # innermost frame inside `needle`
    for frames, count in stacks:
        for f in set(frames):
            inclusive[f] += count
        self_[frames[-1]] += count
        mine = [f for f in frames if needle in f.split(":", 1)[0]]
        if mine:
            own[mine[-1]] += count
    print(f"== {path.name}: {total} busy samples of {all_samples}"
          + (" (idle kept)" if keep_idle else " (shares below are of busy samples)"))
    print(f"-- inclusive (functions in *{needle}*)")
    for f, c in [(f, c) for f, c in inclusive.most_common() if needle in f.split(":", 1)[0]][:top]:
        print(f"{100 * c / total:6.1f}%  {f}")
    print("-- innermost flowserve frame (time in it plus non-flowserve code it calls)")
    for f, c in own.most_common(top):
        print(f"{100 * c / total:6.1f}%  {f}")
    print("-- self (innermost frame, any file)")
    for f, c in self_.most_common(top):
        print(f"{100 * c / total:6.1f}%  {f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--filter", default="flowserve/")
    p.add_argument("--keep-idle", action="store_true",
                   help="count samples waiting in epoll/poll too (default: dropped)")
    args = p.parse_args()
    for path in args.files:
        summarise(path, args.top, args.filter, args.keep_idle)
        print()


if __name__ == "__main__":
    main()
