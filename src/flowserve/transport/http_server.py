"""Serving an ASGI app with uvicorn inside a process's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import uvicorn

__all__ = ["HttpServer"]


def _listen(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket whose accepted connections get TCP_NODELAY.

    asyncio sets TCP_NODELAY on an accepted connection only when the socket's protocol is
    `IPPROTO_TCP`; with the default 0 it never does, and a response written in two parts
    (headers, body) then waits for the client's delayed ACK, ~40 ms per keep-alive request.
    Setting it on the listener as well covers transports that do not (Linux copies it to the
    accepted socket)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"{what}: cannot listen on {host}:{port}: {exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process's composition root owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """An ASGI app served from the running event loop until `stop()`.

    The socket is bound and listening when `start` returns, so the port is known (0 picks a
    free one) and connections queue until uvicorn accepts them: nobody waits for it to start.
    """

    def __init__(self, server: _Server, task: asyncio.Task[None], port: int) -> None:
        self._server = server
        self._task = task
        self.port = port

    @classmethod
    def start(cls, app: Any, host: str, port: int = 0, *, grace: float = 1.0,
              what: str = "http", **options: Any) -> HttpServer:
        """`options` go to ``uvicorn.Config`` (TLS files, limits).

        uvicorn's own reading of ``X-Forwarded-For`` is off: it would let any client on
        127.0.0.1 (a mesh sidecar's clients included) rewrite its address; the gateway reads
        forwarded headers from its trusted proxies only (`gateway.identity`)."""
        sock = _listen(host, port, what)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                proxy_headers=False,
                                timeout_graceful_shutdown=max(1, int(grace)), **options)
        server = _Server(config)
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        return cls(server, task, sock.getsockname()[1])

    def begin_stop(self) -> None:
        """Stop accepting; in-flight requests get the grace period."""
        self._server.should_exit = True

    async def stop(self) -> None:
        self.begin_stop()
        with contextlib.suppress(Exception):
            await self._task
