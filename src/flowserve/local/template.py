"""A template process that forks a local Flow's processes, so they start without importing.

Starting a fresh interpreter per executor costs each process its imports (numpy, protobuf, grpc,
pydantic: most of a second on a busy machine). Instead, at `LocalFlow.start()` the Flow's process
forks once, while it is still safe to (`fork_safe()`), into a *template*: a single-threaded
process that never touches gRPC, holds none of the Flow process's files (each inherited
descriptor is pointed at /dev/null: the resources go, the numbers stay taken, so no stale Python
object can write into a new descriptor), runs no signal handler of its parent, and dies with
it. Each executor and the gateway is then forked from the template and runs `flowserve
executor|gateway` in-process, as `python -m flowserve ...` would:

    Flow process ── template ──┬── executor replica   (stdout/stderr: pipe to the Flow process,
       │    ▲                  ├── ...                  ready line: pipe to the Flow process)
       │    └─ control socket ─┴── gateway
       └── reads the children's output and ready lines

The control socket (AF_UNIX, SOCK_SEQPACKET) carries the requests (``import`` modules,
``spawn`` a command with its pipes passed as descriptors) and the answers: a child's pid and
pidfd right after it is forked (so the Flow process signals it without any pid-reuse race), and
its exit code once the template has reaped it.

No orphans: the template asks for SIGKILL when the Flow process dies, and each child for
SIGTERM when the template dies (`--die-with-parent`); the template exits when its control
socket closes. See docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import IO, Any

__all__ = ["ForkedChild", "Template", "fork_safe"]

_MAX_MESSAGE = 1 << 20  # one request: a command line and its environment
_KEEP: list[Any] = []  # inherited objects the template must never finalise (see _become_template)


def fork_safe() -> bool:
    """Whether this process may fork a template now: called from the main thread, no other
    Python thread and no native thread that named itself (gRPC's, for one), no running event
    loop, and no eventfd open (gRPC's core holds two while it is initialised, even idle: a
    child forked then would share its poller). Linux only (pidfds)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    if threading.active_count() != 1:
        return False
    import asyncio

    with contextlib.suppress(RuntimeError):
        asyncio.get_running_loop()
        return False
    try:
        tasks = os.listdir("/proc/self/task")
        names = {_read(f"/proc/self/task/{t}/comm") for t in tasks}
    except OSError:
        return False
    # unnamed native threads (a BLAS pool) carry the process's own name; gRPC's carry theirs
    if not names <= {_read("/proc/self/comm")}:
        return False
    return not any(link == "anon_inode:[eventfd]" for link in _fd_links())


def _fd_links() -> list[str]:
    links = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
    return links


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


class ForkedChild:
    """A process forked by the template, with the part of `subprocess.Popen`'s interface that
    `ChildProcess` uses."""

    def __init__(self, pid: int, pidfd: int, stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._pidfd: int | None = pidfd
        self._exited = threading.Event()

    def _set_exit(self, code: int) -> None:
        if self.returncode is None:
            self.returncode = code
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        self._exited.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0.0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        pidfd = self._pidfd
        if pidfd is not None and self.returncode is None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Template:
    """The Flow process's side of a template: `fork()` one, `spawn()` children, `close()`."""

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)
        self._sock = sock
        self._lock = threading.Lock()  # one spawn (request and answer) at a time
        self._changed = threading.Condition()
        self._pending: int | None = None  # the output pipe of the spawn being answered
        self._answer: ForkedChild | str | None = None
        self._children: dict[int, ForkedChild] = {}
        self.alive = True
        self._reader = threading.Thread(target=self._read, name="template", daemon=True)
        self._reader.start()

    @classmethod
    def fork(cls, preload: Sequence[str] = ()) -> Template:
        """Fork this process into a template (check `fork_safe()` first); it imports
        `preload` before it forks anything."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the template: never returns
            code = 0
            try:
                ours.close()
                _retitle(f"flowserve template (forks the processes of Flow pid {parent})")
                _become_template(parent, keep=theirs.fileno())
                for module in preload:
                    _import(module)
                _serve(theirs)
            except BaseException:  # noqa: BLE001 - report, then end this process only
                with contextlib.suppress(Exception):
                    traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        theirs.close()
        return cls(pid, ours)

    def preload(self, modules: Sequence[str]) -> None:
        """Have the template import `modules` (say, the gateway's) before its next fork."""
        with self._lock, contextlib.suppress(OSError):
            self._sock.sendmsg([json.dumps({"op": "import", "modules": list(modules)}).encode()])

    def spawn(self, argv: Sequence[str], env: dict[str, str], ready_w: int) -> ForkedChild:
        """Fork a child that runs ``flowserve <argv>`` with `env`, its output on a new pipe
        (the child's ``stdout``) and its ready line on `ready_w` (appended as ``--ready-fd``)."""
        request = json.dumps({"op": "spawn", "argv": list(argv), "env": env}).encode()
        with self._lock:
            out_r, out_w = os.pipe()
            try:
                with self._changed:
                    if not self.alive:
                        raise OSError("the template process is gone")
                    self._pending, self._answer = out_r, None
                socket.send_fds(self._sock, [request], [out_w, ready_w])
            except BaseException:
                os.close(out_r)
                raise
            finally:
                os.close(out_w)
            with self._changed:
                self._changed.wait_for(lambda: self._answer is not None or not self.alive)
                answer, self._answer, self._pending = self._answer, None, None
        if not isinstance(answer, ForkedChild):
            with contextlib.suppress(OSError):
                os.close(out_r)
            raise OSError(f"the template could not fork: {answer or 'it is gone'}")
        return answer

    def _read(self) -> None:
        """Route the template's answers and exit reports; when the template is gone, wait for
        its children (which got SIGTERM: their parent-death signal) to end."""
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self._sock, 65536, 1)
            except OSError:
                data, fds = b"", []
            if not data:
                break
            message = json.loads(data)
            with self._changed:
                if "exit" in message:
                    child = self._children.pop(message["exit"], None)
                    if child is not None:
                        child._set_exit(message["code"])
                elif "pid" in message and self._pending is not None:
                    child = ForkedChild(message["pid"], fds[0], os.fdopen(self._pending, "rb"))
                    self._children[child.pid] = self._answer = child
                else:
                    for fd in fds:
                        os.close(fd)
                    self._answer = str(message.get("error", message))
                self._changed.notify_all()
        with self._changed:
            self.alive = False
            self._changed.notify_all()
            orphans = [c for c in self._children.values() if c._pidfd is not None]
            self._children.clear()
        with selectors.DefaultSelector() as selector:
            for child in orphans:
                selector.register(child._pidfd, selectors.EVENT_READ, child)  # type: ignore[arg-type]
            while selector.get_map():
                for key, _ in selector.select():
                    selector.unregister(key.fd)
                    key.data._set_exit(-signal.SIGTERM)

    def close(self, timeout: float = 10.0) -> None:
        """End the template (children still running get SIGTERM) and reap it."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with selectors.DefaultSelector() as selector:  # it ends at once unless it is importing
            selector.register(self._pidfd, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.kill()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        os.close(self._pidfd)
        self._pidfd = -1
        self._reader.join(timeout)
        self._sock.close()

    def kill(self) -> None:
        if self._pidfd >= 0:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)


# -- inside the template -------------------------------------------------------------------

def _become_template(parent: int, keep: int) -> None:
    """Shed what the Flow process's state would do wrongly here: its signal handlers, its files
    (pointed at /dev/null), its stdio objects, its garbage; die with it."""
    from ..servers.parent import die_with_parent

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGPIPE):
        with contextlib.suppress(OSError, ValueError):
            signal.signal(sig, signal.SIG_DFL)
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    os.setsid()  # a Ctrl-C at the terminal reaches the Flow process only, which stops us
    die_with_parent(signal.SIGKILL, parent=parent)
    # Objects of the Flow process stay referenced and out of the collector's reach: finalising
    # one (a file's flush, a socket's close) here would act on a descriptor it no longer owns.
    _KEEP.extend([sys.stdin, sys.stdout, sys.stderr])
    gc.freeze()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in _open_fds():
        if fd not in (null, keep, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    os.close(null)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - for the template's life
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    import logging

    logging.root.handlers = []  # the children log to their own stderr (see cli.main)


def _open_fds() -> list[int]:
    return [int(fd) for fd in os.listdir("/proc/self/fd") if fd.isdigit()]


def _import(module: str) -> None:
    with contextlib.suppress(Exception):  # a child that needs it reports the error itself
        importlib.import_module(module)


def _serve(sock: socket.socket) -> None:
    """Fork on request; report each child's exit. Ends when the control socket closes."""
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, None)
    while True:
        for key, _ in selector.select():
            if key.data is None:
                data, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 2)
                if not data:
                    return  # the Flow process closed the socket (or died)
                request = json.loads(data)
                if request["op"] == "import":
                    for module in request["modules"]:
                        _import(module)
                    continue
                try:
                    pid = os.fork()
                except OSError as exc:
                    for fd in fds:
                        os.close(fd)
                    sock.sendmsg([json.dumps({"error": str(exc)}).encode()])
                    continue
                if pid == 0:
                    _run_child(request, fds)  # never returns
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                selector.register(pidfd, selectors.EVENT_READ, pid)
                socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [pidfd])
            else:
                selector.unregister(key.fd)
                os.close(key.fd)
                _, status = os.waitpid(key.data, 0)
                sock.sendmsg([json.dumps(
                    {"exit": key.data, "code": os.waitstatus_to_exitcode(status)}).encode()])


def _retitle(title: str) -> None:
    """What `ps` and `top` show for this forked process (a fork keeps its parent's command
    line: every executor showed as the Flow's `flowserve flow ...`)."""
    try:
        import setproctitle
    except ImportError:  # an install without it: the parent's command line stays
        return
    setproctitle.setproctitle(title)


def _run_child(request: dict[str, Any], fds: list[int]) -> None:
    """In a freshly forked child: stdio on the pipe, the given environment, then `flowserve`."""
    code = 1
    try:
        out_w, ready_w = fds
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd in _open_fds():  # the template's own: its socket, selector, children's pidfds
            with contextlib.suppress(OSError):  # (inherited ones stay on /dev/null: see above)
                if fd > 2 and fd != ready_w and os.readlink(f"/proc/self/fd/{fd}") != os.devnull:
                    os.close(fd)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - for the process's life
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["flowserve", *request["argv"]]
        _retitle(" ".join(sys.argv))
        numpy_random = sys.modules.get("numpy.random")
        if numpy_random is not None:  # `random` reseeds itself after a fork; numpy does not
            numpy_random.seed()
        from ..cli.main import main

        code = main([*request["argv"], "--ready-fd", str(ready_w)])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - the process ends here either way
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
