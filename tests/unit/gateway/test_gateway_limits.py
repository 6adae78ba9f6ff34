"""Resource limits (docs/security.md#limits): settings, the body limit, the rate-limited log."""

from __future__ import annotations

import asyncio
import logging

import pytest

from flowserve.cli.main import _parser
from flowserve.config.ratelog import RateLimitedLog
from flowserve.config.spec import flow_from_dict
from flowserve.errors import ConfigError
from flowserve.gateway.limits import Limits, body_limit_middleware, quiet_accept_errors
from flowserve.gateway.security import SecurityConfig


def test_limits_travel_from_the_flow_to_the_gateway_flags():
    spec = flow_from_dict({"with": {"max_message_bytes": 4 << 20, "header_timeout": 2.5}})
    config = SecurityConfig.from_options(spec.with_)
    assert config.limits == Limits(max_message_bytes=4 << 20, header_timeout=2.5)
    argv = config.to_argv()
    assert argv == ["--max-message-bytes", str(4 << 20), "--header-timeout", "2.5"]
    assert SecurityConfig.from_args(_parser().parse_args(["gateway", *argv])) == config
    assert SecurityConfig().to_argv() == []  # defaults need no flags
    with pytest.raises(ConfigError, match="max_connections"):
        flow_from_dict({"with": {"max_connections": 0}})


def test_defaults_carry_the_seeds_bulky_requests():
    bulky = 100 * 512 * 4  # 100 documents of 512 float32 dimensions
    assert Limits().max_message_bytes > 100 * bulky
    assert Limits().max_body_bytes > 20 * bulky  # JSON spells floats out: ~5x the bytes


def _run(app, chunks, headers=()):
    sent: list[dict] = []
    seen: list[bytes] = []
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def inner(scope, receive_, send_):
        message = await receive_()
        seen.append(message["body"])
        await send_({"type": "http.response.start", "status": 200, "headers": []})
        await send_({"type": "http.response.body", "body": b"ok"})

    scope = {"type": "http", "method": "POST", "path": "/post", "headers": list(headers)}
    asyncio.run(app(inner)(scope, receive, send))
    return sent[0]["status"], seen


def test_bodies_over_the_limit_get_413_declared_or_streamed():
    def limited(inner):
        return body_limit_middleware(inner, 10)

    assert _run(limited, [b"12345", b"67890"]) == (200, [b"1234567890"])  # handed on whole
    assert _run(limited, [b"123456", b"78901"]) == (413, [])  # streamed past the limit
    assert _run(limited, [b"1"], [(b"content-length", b"11")]) == (413, [])  # declared


def test_repeated_accept_errors_are_logged_once_per_interval(caplog):
    now = [0.0]
    quiet = RateLimitedLog(logging.getLogger("test.limits"), burst=1, window=10,
                           clock=lambda: now[0])
    handler = quiet_accept_errors(quiet)
    error = {"message": "socket.accept() out of system resource", "exception": OSError(24, "x")}

    class Loop:
        others: list[dict] = []

        def default_exception_handler(self, context):
            self.others.append(context)

    loop = Loop()
    with caplog.at_level(logging.WARNING, logger="test.limits"):
        handler(loop, error)
        for _ in range(1000):
            now[0] += 0.001
            handler(loop, error)
        now[0] = 11.0
        handler(loop, error)
        handler(loop, {"message": "something else"})
    assert [r.getMessage() for r in caplog.records] == [
        "socket.accept() out of system resource: [Errno 24] x",
        "(1000 similar lines left out in 11 s: accept)",
        "socket.accept() out of system resource: [Errno 24] x"]
    assert loop.others == [{"message": "something else"}]  # not an accept error: as usual
