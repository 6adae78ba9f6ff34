"""The blocking `Client`'s HTTP posts: one keep-alive connection through the standard
library's ``http.client``.

A blocking Client sends one post at a time, so it needs no connection pool, and http.client
costs under half the CPU of httpx's synchronous transport per request (measured: ~0.27 ms
against ~0.67 ms per /post on loopback, docs/benchmarks.md). It also sends a small request's
headers and body in one write. Failures are raised as httpx's exceptions, so that posts map
them to flowserve errors in one place (`_http.transport_error`), whichever way they went.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from collections.abc import Mapping
from typing import NamedTuple

import httpx

from ._address import Address

__all__ = ["BlockingConnection", "BlockingReply"]


class BlockingReply(NamedTuple):
    status_code: int
    reason_phrase: str
    headers: list[tuple[str, str]]
    content: bytes

    def as_httpx(self) -> httpx.Response:
        """The reply as an httpx response (what error handling reads)."""
        return httpx.Response(self.status_code, headers=self.headers, content=self.content,
                              extensions={"reason_phrase": self.reason_phrase.encode()})


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle keep-alive connection has something to read: the server closed it (or
    broke the protocol), so it must not carry the next request (as httpcore checks)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class BlockingConnection:
    """``POST``s to `address` over one reused connection; not for concurrent use.

    `verify` is httpx's: True for the system's roots, or an SSLContext (`_tls.http_verify`).
    """

    def __init__(self, address: Address, verify: ssl.SSLContext | bool = True) -> None:
        self._address = address
        self._verify = verify
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self, connect_timeout: float) -> http.client.HTTPConnection:
        host, port = self._address.host, self._address.port
        connection: http.client.HTTPConnection
        if self._address.tls:
            context = httpx.create_ssl_context(verify=self._verify)
            connection = http.client.HTTPSConnection(host, port, timeout=connect_timeout,
                                                     context=context)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            connection.connect()
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out connecting") from exc
        except OSError as exc:  # refused, unreachable, TLS handshake failed
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        assert connection.sock is not None
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def post(self, path: str, content: bytes, headers: Mapping[str, str],
             timeout: float | None, connect_timeout: float) -> BlockingReply:
        """The whole reply to one POST; raises httpx's TransportError subclasses."""
        connection = self._connection
        if connection is not None and (connection.sock is None
                                       or _closed_by_peer(connection.sock)):
            connection.close()
            connection = self._connection = None
        if connection is None:
            connection = self._connect(connect_timeout)
        self._connection = None  # until the exchange is known to have ended cleanly
        try:
            assert connection.sock is not None
            connection.sock.settimeout(timeout)
            connection.request("POST", path, body=content, headers=dict(headers))
            response = connection.getresponse()
            body = response.read()
        except TimeoutError as exc:
            connection.close()
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            if isinstance(exc, http.client.RemoteDisconnected):
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.") from exc
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc
        if response.will_close:
            connection.close()
        else:
            self._connection = connection
        return BlockingReply(response.status, response.reason, response.getheaders(), body)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
