"""Fixtures of the Client tests: the fake gateways of client_fakes.py, served and connected."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from client_fakes import FakeHttpGateway, FakeJina, FakeJinaUnary, ServerThread

from flowserve import Client


@pytest.fixture
def fake() -> FakeJina:
    return FakeJina()


@pytest.fixture
def grpc_server(fake: FakeJina) -> Iterator[ServerThread]:
    server = ServerThread(fake)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(grpc_server: ServerThread) -> Iterator[Client]:
    with Client(host=f"grpc://127.0.0.1:{grpc_server.port}") as c:
        yield c


@pytest.fixture
def unary_server() -> Iterator[tuple[ServerThread, FakeJinaUnary]]:
    fake = FakeJinaUnary()
    server = ServerThread(fake)
    server.start()
    try:
        yield server, fake
    finally:
        server.stop()


@pytest.fixture
def http_app() -> FakeHttpGateway:
    return FakeHttpGateway()


@pytest.fixture
def http_client(http_app: FakeHttpGateway) -> Iterator[Client]:
    transport = httpx.ASGITransport(app=http_app)
    with Client(host="http://gateway.test:8080", http_transport=transport) as c:
        yield c
