"""The blocking Client over HTTP against the fake gateway on a real socket: a post of one
request goes over the Client's synchronous keep-alive connection (`HttpTransport` with
``blocking``), with the same results and errors as any other post."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from client_fakes import FakeHttpGateway, HttpServerThread, make_docs
from tcp_server import TcpServerThread

from flowserve import Client
from flowserve.errors import (
    BadRequestError,
    DeadlineExceededError,
    ExecutorError,
    OverloadedError,
)
from flowserve.wire.names import CLIENT_ID_HEADER

pytestmark = pytest.mark.integration


@pytest.fixture
def served() -> Iterator[tuple[FakeHttpGateway, str]]:
    app = FakeHttpGateway()
    server = HttpServerThread(app)
    server.start()
    try:
        yield app, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_single_posts_share_one_keep_alive_connection(served):
    app, url = served
    with Client(host=url, client_id="me") as client:
        for i in range(10):
            assert [d.text for d in client.post("/", make_docs(f"t{i}"))] == [f"T{i}"]
        # a post of several requests (concurrent, on asyncio) still works beside them
        texts = [f"m{i}" for i in range(6)]
        many = client.post("/", make_docs(*texts), request_size=1, results_in_order=True)
        assert [d.text for d in many] == [t.upper() for t in texts]
    single_peers = app.peers[:10]
    assert len(set(single_peers)) == 1, single_peers  # one connection, kept alive
    assert all(h[CLIENT_ID_HEADER.lower()] == "me" for h in app.headers)
    assert all(h["content-type"] == "application/json" for h in app.headers)


def test_single_post_metadata_wins_over_the_clients_own_headers(served):
    app, url = served
    with Client(host=url, client_id="me") as client:
        client.post("/", make_docs("a"), metadata={"x-tenant": "acme",
                                                    CLIENT_ID_HEADER.upper(): "other"})
    assert app.headers[-1]["x-tenant"] == "acme"
    assert app.headers[-1][CLIENT_ID_HEADER.lower()] == "other"


def test_single_post_errors_are_the_flowserve_errors(served):
    _, url = served
    with Client(host=url) as client:
        with pytest.raises(OverloadedError, match="queue is full") as info:
            client.post("/", make_docs("overload"))
        assert info.value.retry_after == 2
        with pytest.raises(DeadlineExceededError, match="deadline"):
            client.post("/", make_docs("late"))
        with pytest.raises(ExecutorError, match="boom happened"):
            client.post("/", make_docs("boom"))
        errors = []
        client.post("/", make_docs("overload"), on_error=errors.append)
        assert [e.status.exception.name for e in errors] == ["OverloadedError"]
        assert [d.text for d in client.post("/", make_docs("ok"))] == ["OK"]


def test_single_post_timeout_ends_the_wait_and_the_next_post_works(served):
    _, url = served
    with Client(host=url) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError, match="0.5s"):
            client.post("/", make_docs("hang"), timeout=0.5)
        assert time.monotonic() - started < 20  # bounded by the timeout; slack for a busy CI
        assert [d.text for d in client.post("/", make_docs("a"))] == ["A"]


def test_single_post_from_a_thread_with_a_running_loop(served):
    """Inside a running loop (a notebook) the Client's loop runs on a helper thread, which the
    synchronous connection may block."""
    _, url = served

    async def inside() -> list[str]:
        with Client(host=url) as client:
            return [d.text for d in client.post("/", make_docs("a"))]

    assert asyncio.run(inside()) == ["A"]


def test_a_request_json_cannot_carry_fails_alone_naming_why(served):
    """NaN is not JSON: before, a bare ValueError escaped from inside the transport."""
    app, url = served
    with Client(host=url) as client:
        bad = make_docs("a")
        bad[0].tags["x"] = float("nan")
        with pytest.raises(BadRequestError, match="cannot be sent as JSON: Out of range float"):
            client.post("/", bad)
        errors = []
        client.post("/", make_docs("b", "c"), request_size=1, on_error=errors.append)
        assert errors == []
        client.post("/", bad, on_error=errors.append)
        assert [e.status.exception.name for e in errors] == ["BadRequestError"]
        assert [d.text for d in client.post("/", make_docs("d"))] == ["D"]
    assert len(app.headers) == 3  # the bad request never went out


class OneShotServer(TcpServerThread):
    """A raw HTTP/1.1 server that reads each request, answers it (or not) and closes the
    connection without saying so beforehand - as a proxy or a server dropping an idle
    keep-alive connection does."""

    def __init__(self, answer: bool = True) -> None:
        self.answer = answer
        self.closed = threading.Semaphore(0)
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)
            if self.answer:
                docs = json.loads(body)["data"]
                reply = json.dumps({"header": {"requestId": "r"}, "data": docs}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n\r\n%s" % (len(reply), reply))
        self.closed.release()


def test_a_connection_the_server_dropped_is_not_reused():
    server = OneShotServer()
    try:
        with Client(host=f"http://127.0.0.1:{server.port}") as client:
            for text in ("a", "b", "c"):
                assert [d.text for d in client.post("/", make_docs(text))] == [text]
                assert server.closed.acquire(timeout=30)  # dropped before the next post
        assert server.connections == 3
    finally:
        server.close()


def test_a_server_closing_without_an_answer_is_unavailable_naming_it():
    from flowserve.errors import UnavailableError

    server = OneShotServer(answer=False)
    try:
        with Client(host=f"http://127.0.0.1:{server.port}") as client, pytest.raises(
                UnavailableError, match=rf"127.0.0.1:{server.port}.*(disconnected|reset)"):
            client.post("/", make_docs("a"))
    finally:
        server.close()


def test_nobody_listening_is_unavailable_naming_the_address():
    from flowserve.errors import UnavailableError

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with Client(host=f"http://127.0.0.1:{port}") as client, pytest.raises(
            UnavailableError, match=f"cannot reach the gateway at .*:{port}"):
        client.post("/", make_docs("a"))


def test_a_forwarded_for_header_does_not_change_the_peer_address():
    """Only the gateway's trusted proxies are believed (`gateway.identity`); uvicorn's own
    X-Forwarded-For rewriting (it trusts 127.0.0.1) would let a local client, or any client
    behind a sidecar proxy, pick its address."""
    import httpx

    async def peer(scope: dict, receive: object, send: object) -> None:
        body = scope["client"][0].encode()
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})  # type: ignore[operator]

    server = HttpServerThread(peer)
    server.start()
    try:
        reply = httpx.get(f"http://127.0.0.1:{server.port}/",
                          headers={"X-Forwarded-For": "10.9.9.9"})
    finally:
        server.stop()
    assert reply.text == "127.0.0.1"
