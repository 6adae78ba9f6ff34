"""One child process of a local Flow: spawn, readiness over a pipe, log relay, graceful stop."""

from __future__ import annotations

import collections
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ..errors import FlowStartError
from .template import ForkedChild, Template

__all__ = ["ChildProcess", "wait_all_ready"]

_PRINT_LOCK = threading.Lock()  # relay threads of all children share our stderr: whole lines


class ChildProcess:
    """A flowserve process (executor replica or gateway) started with `--ready-fd`.

    The child writes one JSON line to the ready pipe once it serves; its stderr is relayed to
    ours line by line (prefixed with its name) and the last lines are kept for error reports.
    `argv` is a ``python -m flowserve ...`` command line; with a live `template`, the child is
    forked from it instead (the same command, run without a new interpreter).
    """

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], *,
                 role: str = "executor", log_to: TextIO | None = None,
                 keep_lines: int = 30, template: Template | None = None) -> None:
        self.name = name
        self.role = role
        self.argv = list(argv)
        self.env = env
        self.info: dict[str, Any] | None = None
        self.last_lines: collections.deque[str] = collections.deque(maxlen=keep_lines)
        self._log_to = log_to if log_to is not None else sys.stderr
        self.template = template
        self._proc: subprocess.Popen[bytes] | ForkedChild | None = None
        self._ready_r: int | None = None
        self._relay: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        ready_r, ready_w = os.pipe()
        try:
            self._proc = self._fork(ready_w)
            if self._proc is None:
                self._proc = subprocess.Popen(
                    [*self.argv, "--ready-fd", str(ready_w)], env=self.env, pass_fds=(ready_w,),
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches the orchestrator: it stops us in order
                )
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        self._ready_r = ready_r
        self._relay = threading.Thread(target=self._relay_output, name=f"log-{self.name}",
                                       daemon=True)
        self._relay.start()

    def _fork(self, ready_w: int) -> ForkedChild | None:
        """The child forked from the template, or None to start a new interpreter (no template,
        or it is gone: a restart after the template was killed)."""
        if self.template is None or not self.template.alive:
            return None
        try:
            return self.template.spawn(self.argv[3:], self.env, ready_w)  # after -m flowserve
        except OSError:
            return None

    def pin(self, flag: str, ports: Sequence[int]) -> None:
        """Restart with these values for `flag` (the ports it bound first, where it was given
        0), so the addresses others know stay valid."""
        argv = self.argv
        values = [str(p) for p in ports]
        if flag in argv:
            i = argv.index(flag) + 1
            argv[i:i + len(values)] = values
        else:
            argv += [flag, *values]

    def restart(self) -> None:
        """Start the same command again (after it exited)."""
        self.close()
        self.info = None
        self.start()

    def _relay_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.last_lines.append(line)
            try:
                with _PRINT_LOCK:
                    print(f"{self.name}: {line}", file=self._log_to, flush=True)
            except (ValueError, OSError):  # our stderr went away; keep draining the pipe
                pass

    def _ready_fd(self) -> int:
        assert self._ready_r is not None
        return self._ready_r

    def _read_ready(self) -> None:
        """Consume the ready line (the fd is readable); EOF means the child failed to start."""
        chunks = []
        while True:
            chunk = os.read(self._ready_fd(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self._ready_fd())
        self._ready_r = None
        data = b"".join(chunks).strip()
        if not data:
            raise self.start_error("exited before it was ready")
        self.info = json.loads(data)

    def start_error(self, what: str) -> FlowStartError:
        code = self.wait(timeout=5)
        if self._relay is not None:
            self._relay.join(timeout=5)
        tail = "\n".join(f"    {line}" for line in self.last_lines) or "    (no output)"
        return FlowStartError(f"{self.name} {what} (exit code {code}); last output:\n{tail}")

    def wait(self, timeout: float | None = None) -> int | None:
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def close(self) -> None:
        if self._ready_r is not None:
            os.close(self._ready_r)
            self._ready_r = None
        if self._relay is not None:
            self._relay.join(timeout=5)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()


def wait_all_ready(children: Sequence[ChildProcess], timeout: float) -> None:
    """Block until every child wrote its ready line; raise FlowStartError naming the first
    child that exited or, after `timeout` seconds, the ones that are still not ready."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for child in children:
            selector.register(child._ready_fd(), selectors.EVENT_READ, child)
        pending = len(children)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                names = ", ".join(
                    key.data.name for key in selector.get_map().values()
                )
                raise FlowStartError(f"not ready after {timeout:g} s: {names}")
            for key, _ in selector.select(remaining):
                ready: ChildProcess = key.data
                selector.unregister(key.fd)
                pending -= 1
                ready._read_ready()
