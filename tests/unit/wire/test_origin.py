"""Where a request came from, as the adapters describe it to the observer: pure functions of
gRPC peer strings, listening addresses and ASGI scopes."""

from __future__ import annotations

import pytest

from flowserve.wire.names import CALL_METHOD, PROCESS_METHOD
from flowserve.wire.origin import (
    GrpcOrigin,
    HttpOrigin,
    grpc_origin,
    http_origin,
    listen_address,
    split_host_port,
)


@pytest.mark.parametrize(("peer", "address", "port"), [
    ("ipv4:127.0.0.1:37192", "127.0.0.1", 37192),
    ("ipv6:[::1]:5000", "::1", 5000),
    ("ipv6:%5B::1%5D:5000", "::1", 5000),
    ("unix:/tmp/gw.sock", "/tmp/gw.sock", None),
    ("something-else", None, None),
    (None, None, None),
])
def test_grpc_origin_reads_the_peer_string(peer, address, port):
    origin = grpc_origin(CALL_METHOD, peer, ("gw.example", 50051))
    assert origin == GrpcOrigin(method="jina.JinaRPC/Call", peer_address=address,
                                peer_port=port, server_address="gw.example", server_port=50051)


def test_grpc_origin_without_a_known_server():
    origin = grpc_origin(PROCESS_METHOD, "ipv4:10.0.0.2:1")
    assert origin.method == "jina.JinaSingleDataRequestRPC/process_single_data"
    assert (origin.server_address, origin.server_port) == (None, None)


@pytest.mark.parametrize(("address", "expected"), [
    ("gw.example:8080", ("gw.example", 8080)),
    ("[::1]:8080", ("::1", 8080)),
    ("::1", ("::1", None)),
    ("gw.example", ("gw.example", None)),
    ("0.0.0.0:80", (None, 80)),
    (":80", (None, 80)),
])
def test_split_host_port(address, expected):
    assert split_host_port(address) == expected


def test_a_wildcard_listening_host_names_no_server_address():
    assert listen_address("0.0.0.0", 50051) == (None, 50051)
    assert listen_address("::", 50051) == (None, 50051)
    assert listen_address("127.0.0.1", 50051) == ("127.0.0.1", 50051)


def _scope(**extra):
    scope = {"type": "http", "method": "POST", "path": "/post", "scheme": "http",
             "server": ("127.0.0.1", 12345), "client": ("10.1.2.3", 40000),
             "headers": [(b"host", b"gateway.example:8080"), (b"user-agent", b"curl/8.5"),
                         (b"content-type", b"application/json")]}
    scope.update(extra)
    return scope


def test_http_origin_from_the_asgi_scope():
    assert http_origin(_scope(), "/post") == HttpOrigin(
        method="POST", route="/post", path="/post", scheme="http",
        server_address="gateway.example", server_port=8080, client_address="10.1.2.3",
        client_port=40000, user_agent="curl/8.5")


def test_http_origin_server_falls_back_to_the_socket():
    origin = http_origin(_scope(headers=[(b"host", b"gateway.example")]), "/post")
    assert (origin.server_address, origin.server_port) == ("gateway.example", 12345)
    origin = http_origin(_scope(headers=[]), "/post")
    assert (origin.server_address, origin.server_port) == ("127.0.0.1", 12345)
    assert origin.user_agent is None


def test_http_origin_of_a_websocket():
    scope = _scope(type="websocket", scheme="ws", path="/")
    del scope["method"]
    origin = http_origin(scope, "/")
    assert (origin.method, origin.route, origin.scheme, origin.websocket) == (
        "GET", "/", "ws", True)
    assert not http_origin(_scope(), "/post").websocket
