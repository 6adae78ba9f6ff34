"""The gateway's uvicorn protocol sends a response in one write (no sockets: a fake transport
under uvicorn's real h11 protocol)."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from flowserve.gateway.http_protocol import _SMALL, _OneWrite, http_protocol
from flowserve.gateway.limits import Limits


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def json_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    body = b'{"ok":true}'
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def serve(requests: bytes) -> FakeTransport:
    async def go() -> FakeTransport:
        config = uvicorn.Config(json_app, log_level="warning", access_log=False)
        config.load()
        protocol = http_protocol(Limits())(config=config, server_state=ServerState(),
                                           app_state={})
        transport = FakeTransport()
        protocol.connection_made(transport)
        protocol.data_received(requests)
        for _ in range(20):  # let the app's task run, and the flush after it
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return transport

    return asyncio.run(go())


REQUEST = b"POST /post HTTP/1.1\r\nhost: gw\r\ncontent-length: 2\r\n\r\n{}"


def test_a_response_goes_out_in_one_write():
    transport = serve(REQUEST)
    assert len(transport.writes) == 1, transport.writes
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b'\r\n\r\n{"ok":true}')


def test_pipelined_requests_each_get_their_answer():
    transport = serve(REQUEST * 3)
    sent = b"".join(transport.writes)
    assert sent.count(b"HTTP/1.1 200 OK") == 3 and sent.count(b'{"ok":true}') == 3


def write_steps(*steps: list[bytes], close: bool = False) -> FakeTransport:
    """Each step's writes within one step of the loop; then, optionally, a close."""
    async def go() -> FakeTransport:
        transport = FakeTransport()
        one = _OneWrite(transport, asyncio.get_running_loop())
        for step in steps:
            for data in step:
                one.write(data)
            await asyncio.sleep(0)
        if close:
            one.write(b"last")
            one.close()
            await asyncio.sleep(0)
        return transport

    return asyncio.run(go())


def test_small_writes_of_one_step_are_joined_and_steps_stay_apart():
    transport = write_steps([b"a", b"", b"b"], [b"c"])
    assert transport.writes == [b"ab", b"c"]


def test_a_large_write_goes_at_once_after_what_waits():
    big = b"x" * (_SMALL + 1)
    transport = write_steps([b"head", big, b"tail"])
    assert transport.writes == [b"head", big, b"tail"]


def test_close_sends_what_waits_first_and_nothing_follows():
    transport = write_steps([b"a"], close=True)
    assert transport.writes == [b"a", b"last"] and transport.closed
