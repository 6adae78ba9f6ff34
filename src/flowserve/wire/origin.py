"""Where a request came from: the transport facts an adapter knows about one request (method,
addresses, user agent), as plain data.

The gateway's gRPC, HTTP and WebSocket adapters build one and pass it through the gateway core
unread to its `Observer`; tracing turns it into OpenTelemetry's semantic-convention attributes
(`flowserve.observe._otel`). Building one is pure: from strings and the ASGI scope, no gRPC or
HTTP library involved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["GrpcOrigin", "HttpOrigin", "Origin", "grpc_origin", "http_origin", "listen_address",
           "split_host_port"]

_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})


@dataclass(frozen=True, slots=True)
class GrpcOrigin:
    """A request that came in by a gRPC call."""

    method: str
    """Fully qualified, without the leading slash: ``jina.JinaRPC/Call``."""
    peer_address: str | None = None
    peer_port: int | None = None
    server_address: str | None = None
    server_port: int | None = None


@dataclass(frozen=True, slots=True)
class HttpOrigin:
    """A request that came in over HTTP (or a WebSocket: `scheme` ``ws``/``wss``)."""

    method: str
    route: str
    """The matched route template (``/post``), low-cardinality unlike `path`."""
    path: str
    scheme: str
    server_address: str | None = None
    server_port: int | None = None
    client_address: str | None = None
    client_port: int | None = None
    user_agent: str | None = None

    @property
    def websocket(self) -> bool:
        return self.scheme in ("ws", "wss")


Origin = GrpcOrigin | HttpOrigin


def split_host_port(address: str) -> tuple[str | None, int | None]:
    """``host:port`` (``[::1]:5``, a bare host, or ``:5``) as (host, port); a wildcard or
    empty host is None (it names no server a client reached)."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or (host and ":" in host and not host.startswith("[")):
        host, port = address, ""  # no port, or a bare IPv6 address
    host = host.strip()
    name = None if host in _WILDCARDS else host.strip("[]")
    return name, int(port) if port else None


def listen_address(host: str, port: int) -> tuple[str | None, int]:
    """The (server address, port) of a server bound to `host`:`port` (wildcard hosts: None)."""
    return (None if host in _WILDCARDS else host.strip("[]")), port


def _grpc_peer(peer: str) -> tuple[str | None, int | None]:
    """The address and port of a gRPC peer string (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``,
    ``ipv6:%5B::1%5D:5``); a Unix socket has its path and no port."""
    kind, _, rest = peer.partition(":")
    if kind == "unix":
        return rest or None, None
    if kind not in ("ipv4", "ipv6"):
        return None, None
    rest = rest.replace("%5B", "[").replace("%5D", "]")
    host, _, port = rest.rpartition(":")
    return host.strip("[]") or None, int(port) if port.isdigit() else None


def grpc_origin(method: str, peer: str | None,
                server: tuple[str | None, int | None] = (None, None)) -> GrpcOrigin:
    """The origin of a call of `method` (``/pkg.Service/Method``) from `peer` (the gRPC peer
    string) to the server listening at `server` (see `listen_address`)."""
    return _grpc_origin(method, peer, server)


@lru_cache(maxsize=1024)  # built per request: the same connection gives the same origin
def _grpc_origin(method: str, peer: str | None,
                 server: tuple[str | None, int | None]) -> GrpcOrigin:
    peer_address, peer_port = _grpc_peer(peer) if peer else (None, None)
    return GrpcOrigin(method=method.lstrip("/"), peer_address=peer_address, peer_port=peer_port,
                      server_address=server[0], server_port=server[1])


def http_origin(scope: Mapping[str, Any], route: str) -> HttpOrigin:
    """The origin of the HTTP request or WebSocket in the ASGI `scope`, served by `route`.

    ``server.*`` comes from the ``Host`` header the client sent (else the socket's own
    address), ``client.*`` from the connection's peer (forwarding headers are not read: a
    proxy's claims are the identity module's business, with its trusted-proxy list)."""
    host = agent = None
    for key, value in scope.get("headers") or ():
        if key == b"host":
            host = value
        elif key == b"user-agent":
            agent = value
    server, client = scope.get("server"), scope.get("client")
    scheme = scope.get("scheme") or ("ws" if scope.get("type") == "websocket" else "http")
    return _http_origin(scope.get("method", "GET"), route, scope.get("path", route), scheme, host,
                        tuple(server) if server else (None, None),
                        tuple(client) if client else (None, None), agent)


@lru_cache(maxsize=1024)
def _http_origin(method: str, route: str, path: str, scheme: str, host: bytes | None,
                 server: tuple[str | None, int | None], client: tuple[str | None, int | None],
                 agent: bytes | None) -> HttpOrigin:
    if host:
        server_address, server_port = split_host_port(host.decode("latin-1"))
        if server_port is None:  # the scheme's default port
            server_port = server[1]
    else:
        server_address, server_port = server
    return HttpOrigin(method=method, route=route, path=path, scheme=scheme,
                      server_address=server_address, server_port=server_port,
                      client_address=client[0], client_port=client[1],
                      user_agent=agent.decode("latin-1") if agent is not None else None)
