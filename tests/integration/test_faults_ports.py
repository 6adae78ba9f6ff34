"""Faults #9: a gRPC port already in use is refused with one clear line, like an HTTP port
(gRPC's default SO_REUSEPORT let a second server start and split the clients)."""

from __future__ import annotations

import pytest
from procs import Proc, free_port, wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("command", [
    ["executor", "--uses", "toy_executors:NoOp", "--host", "127.0.0.1"],
    ["gateway", "--host", "127.0.0.1"],
])
def test_a_second_server_on_a_grpc_port_in_use_exits_with_one_clear_line(command):
    port = str(free_port())
    first = Proc(*command, "--port", port)
    second = None
    try:
        assert wait_until(lambda: "listening" in first.output or first.p.poll() is not None,
                          120), first.output
        assert first.p.poll() is None, first.output
        second = Proc(*command, "--port", port)
        assert second.p.wait(120) == 1, second.output
        assert f"error: cannot listen on 127.0.0.1:{port}: address already in use" \
            in second.output, second.output
        assert first.p.poll() is None  # the first one still serves
    finally:
        first.stop()
        if second is not None:
            second.stop()
