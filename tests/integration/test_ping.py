"""`flowserve ping` against a real executor and gateway on 127.0.0.1."""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest
from procs import child_env, free_port

from flowserve.cli import ping as ping_cli
from flowserve.client.ping import ping, run_ping

pytestmark = pytest.mark.integration


class Server:
    """A `python -m flowserve ...` child that reports readiness (and its ports) on a pipe."""

    def __init__(self, log: Path, *args: str) -> None:
        read_fd, write_fd = os.pipe()
        self.log_path = log
        self._log: TextIO = log.open("w")
        try:
            self.p = subprocess.Popen(
                [sys.executable, "-m", "flowserve", *args, "--grace", "1",
                 "--ready-fd", str(write_fd), "--die-with-parent"],
                env=child_env(), pass_fds=(write_fd,), stdout=self._log, stderr=subprocess.STDOUT,
            )
        finally:
            os.close(write_fd)
        try:
            self.ready = self._wait_ready(read_fd, timeout=120)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)

    def _wait_ready(self, fd: int, timeout: float) -> dict[str, Any]:
        deadline, data = time.monotonic() + timeout, b""
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"not ready within {timeout} s:\n{self.output}")
            chunk = os.read(fd, 4096)
            if not chunk:  # closed without a line: the child died
                raise RuntimeError(f"exited with {self.p.wait(30)} before ready:\n{self.output}")
            data += chunk
        return json.loads(data)

    @property
    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        try:
            if self.p.poll() is None:
                self.p.send_signal(signal.SIGTERM)
            try:
                return self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                return self.p.wait(10)
        finally:
            self._log.close()


def start_executor(tmp_path: Path) -> Server:
    return Server(tmp_path / "executor.log", "executor", "--uses", "toy_executors:NoOp",
                  "--name", "e", "--host", "127.0.0.1", "--port", "0")


def start_gateway(tmp_path: Path, executor_port: int) -> Server:
    return Server(tmp_path / "gateway.log", "gateway", "--graph", json.dumps({"e": ["gateway"]}),
                  "--deployments", json.dumps({"e": [f"127.0.0.1:{executor_port}"]}),
                  "--protocol", "grpc", "http", "--port", "0", "0", "--host", "127.0.0.1")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """An executor and a gateway (gRPC + HTTP) in front of it: their ports."""
    tmp = tmp_path_factory.mktemp("ping")
    executor = start_executor(tmp)
    try:
        gateway = start_gateway(tmp, executor.ready["port"])
        try:
            yield {"executor": executor.ready["port"], **gateway.ready["ports"]}
        finally:
            assert gateway.stop() == 0, gateway.output
    finally:
        assert executor.stop() == 0, executor.output


@pytest.mark.parametrize(("kind", "port", "protocol", "expected"), [
    ("executor", "executor", None, "grpc.health.v1 Check says SERVING"),
    ("gateway", "grpc", None, "grpc.health.v1 Check says SERVING"),
    ("gateway", "http", "http", "GET / answered HTTP 200"),
    ("flow", "grpc", None, "dry_run SUCCESS"),
    ("flow", "http", "http", "dry_run code 0"),
])
def test_healthy_targets_exit_0_with_one_line(
    stack: dict[str, int], capsys: pytest.CaptureFixture[str], kind: str, port: str,
    protocol: str | None, expected: str,
) -> None:
    address = f"127.0.0.1:{stack[port]}"
    assert run_ping(kind, address, timeout=5, attempts=2, protocol=protocol) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.count("\n") == 1
    assert out.startswith(f"{kind} ") and address in out and "healthy" in out and expected in out


@pytest.mark.parametrize("kind", ["executor", "gateway", "flow"])
def test_a_closed_port_exits_1_fast_naming_the_address(
    capsys: pytest.CaptureFixture[str], kind: str,
) -> None:
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    assert run_ping(kind, address, timeout=10, attempts=1) == 1
    assert time.monotonic() - started < 5  # refused at once, not after the 10 s deadline
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "UNHEALTHY" in err and f"unreachable: nothing answers at {address}" in err


def test_attempts_are_repeated_with_a_short_backoff() -> None:
    address = f"127.0.0.1:{free_port()}"
    waits: list[float] = []
    result = ping("gateway", address, timeout=5, attempts=3, sleep=waits.append)
    assert not result.ok and "3 attempts" in result.line
    assert waits == [0.25, 0.5]
    result = ping("gateway", f"http://{address}", timeout=5, attempts=2, sleep=waits.append)
    assert not result.ok and "unreachable" in result.line and "2 attempts" in result.line


def test_flow_fails_while_its_executor_is_down_though_the_gateway_is_up(tmp_path: Path) -> None:
    executor = start_executor(tmp_path)
    gateway: Server | None = None
    try:
        port = executor.ready["port"]
        gateway = start_gateway(tmp_path, port)
        grpc_gw, http_gw = (f"127.0.0.1:{gateway.ready['ports'][p]}" for p in ("grpc", "http"))
        assert run_ping("flow", grpc_gw, timeout=5, attempts=2) == 0
        assert executor.stop() == 0, executor.output

        assert run_ping("executor", f"127.0.0.1:{port}", timeout=5) == 1
        assert run_ping("gateway", grpc_gw, timeout=5) == 0
        result = ping("flow", grpc_gw, timeout=10)
        assert not result.ok, result.line
        assert "dry_run says ERROR" in result.line and f"127.0.0.1:{port}" in result.line
        result = ping("flow", http_gw, timeout=10, protocol="http")
        assert not result.ok and "dry_run failed" in result.line, result.line
    finally:
        if gateway is not None:
            assert gateway.stop() == 0, gateway.output
        executor.stop()


def test_the_ping_subcommand_parses_flags_and_returns_the_exit_code(
    stack: dict[str, int], capsys: pytest.CaptureFixture[str],
) -> None:
    parser = argparse.ArgumentParser(prog="flowserve")
    ping_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["ping", "executor", f"127.0.0.1:{stack['executor']}",
                              "--timeout", "5s", "--attempts", "2"])
    assert args.func(args) == 0
    args = parser.parse_args(["ping", "flow", f"127.0.0.1:{free_port()}"])
    assert args.func(args) == 1
    args = parser.parse_args(["ping", "executor", "127.0.0.1:1", "--protocol", "http"])
    assert args.func(args) == 2  # executors serve gRPC only
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["ping", "flow", "127.0.0.1:1", "--attempts", "0"])
    assert exit_info.value.code == 2
    assert "--attempts: must be >= 1" in capsys.readouterr().err
