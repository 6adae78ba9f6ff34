"""Health probes for an executor, a gateway or a whole Flow (for `flowserve ping` and Kubernetes).

- ``executor``: grpc.health.v1 ``Check(service="")`` answers SERVING.
- ``gateway``: the same on the gateway's gRPC port, or ``GET /`` answers 200 over HTTP.
- ``flow``: the gateway is healthy and its dry run succeeds (gRPC
  ``/jina.JinaGatewayDryRunRPC/dry_run`` answers code SUCCESS; HTTP ``GET /dry_run`` code 0),
  i.e. every executor replica behind it is ready.

Each attempt has its own deadline (`timeout`); failed attempts are repeated after a short
backoff, up to `attempts`. Blocking by design: this is a command-line probe.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import grpc
from google.protobuf import empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..proto import jina_pb2, jina_pb2_grpc
from ._address import Address, parse_address

__all__ = ["KINDS", "PingResult", "ping", "run_ping"]

KINDS = ("executor", "gateway", "flow")
_MAX_BACKOFF = 2.0


@dataclass(frozen=True, slots=True)
class PingResult:
    """The outcome of a probe: `ok`, and one line saying what was checked and what happened."""

    ok: bool
    line: str


@dataclass(frozen=True, slots=True)
class _Outcome:
    ok: bool
    detail: str


def ping(
    kind: str, address: str, *, timeout: float = 3.0, attempts: int = 1,
    protocol: str | None = None, backoff: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> PingResult:
    """Probe the `kind` (``executor``, ``gateway``, ``flow``) serving at `address` (HOST:PORT,
    or ``grpc://``, ``grpcs://``, ``http://``, ``https://`` URLs).

    `protocol` (``grpc`` or ``http``) defaults to the URL's scheme, else gRPC. Raises
    ValueError for an invalid request (unknown kind, bad address, HTTP to an executor).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join(KINDS)}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    addr = parse_address(address, protocol=protocol)
    if kind == "executor" and addr.protocol != "grpc":
        raise ValueError("executors serve gRPC only: ping an executor without --protocol http")
    check = _check_grpc if addr.protocol == "grpc" else _check_http
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        outcome = check(kind, addr, timeout)
        if outcome.ok or attempt == attempts:
            break
        sleep(min(backoff * 2 ** (attempt - 1), _MAX_BACKOFF))
    elapsed_ms = (time.monotonic() - started) * 1000
    tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
    verdict = "healthy" if outcome.ok else "UNHEALTHY"
    line = f"{kind} {addr.url}: {verdict}: {outcome.detail} ({tries}, {elapsed_ms:.0f} ms)"
    return PingResult(outcome.ok, line)


def run_ping(
    kind: str, address: str, timeout: float = 3.0, attempts: int = 1,
    protocol: str | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
) -> int:
    """Probe and print one line; the exit code: 0 healthy, 1 not, 2 invalid request.

    The line goes to `out` (stdout) when healthy, to `err` (stderr) otherwise.
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        result = ping(kind, address, timeout=timeout, attempts=attempts, protocol=protocol)
    except ValueError as exc:
        print(f"flowserve ping: error: {exc}", file=err)
        return 2
    print(result.line, file=out if result.ok else err)
    return 0 if result.ok else 1


# -- gRPC --------------------------------------------------------------------------------------

def _channel(addr: Address) -> grpc.Channel:
    if addr.tls:
        return grpc.secure_channel(addr.target, grpc.ssl_channel_credentials())
    return grpc.insecure_channel(addr.target)


def _rpc_problem(exc: grpc.RpcError, addr: Address, what: str, timeout: float) -> str:
    # Errors of sync calls are also grpc.Call objects, with a code and details.
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if isinstance(exc, grpc.Call) else str(exc)) or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"unreachable: nothing answers at {addr.target} ({details})"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{what} got no answer from {addr.target} within {timeout:g} s"
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return f"{addr.target} does not implement {what}"
    return f"{what} failed: {code.name} {details}".strip()


def _check_grpc(kind: str, addr: Address, timeout: float) -> _Outcome:
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        return max(deadline - time.monotonic(), 0.001)

    what = "grpc.health.v1 Check"
    with _channel(addr) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=remaining()
            )
        except grpc.RpcError as exc:
            return _Outcome(False, _rpc_problem(exc, addr, what, timeout))
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            return _Outcome(False, f"{what} says {status}")
        if kind != "flow":
            return _Outcome(True, f"{what} says {status}")
        what = "dry_run"
        try:
            result = jina_pb2_grpc.JinaGatewayDryRunRPCStub(channel).dry_run(
                empty_pb2.Empty(), timeout=remaining()
            )
        except grpc.RpcError as exc:
            return _Outcome(False, _rpc_problem(exc, addr, what, timeout))
    if result.code != jina_pb2.StatusProto.SUCCESS:
        code = jina_pb2.StatusProto.StatusCode.Name(result.code)
        return _Outcome(False, f"gateway SERVING but dry_run says {code}: {result.description}")
    return _Outcome(True, "gateway SERVING, dry_run SUCCESS: every executor is ready")


# -- HTTP --------------------------------------------------------------------------------------

def _check_http(kind: str, addr: Address, timeout: float) -> _Outcome:
    import httpx  # only HTTP probes pay for it

    deadline = time.monotonic() + timeout
    path = "/"
    try:
        with httpx.Client(base_url=addr.url, timeout=timeout) as client:
            health = client.get(path)
            if health.status_code != 200:
                return _Outcome(False, f"GET / answered HTTP {health.status_code}")
            if kind != "flow":
                return _Outcome(True, "GET / answered HTTP 200")
            path = "/dry_run"
            reply = client.get(path, timeout=max(deadline - time.monotonic(), 0.001))
    except httpx.TimeoutException:
        return _Outcome(False, f"GET {path} got no answer from {addr.target} within {timeout:g} s")
    except httpx.TransportError as exc:
        return _Outcome(False, f"unreachable: nothing answers at {addr.target} ({exc})")
    if reply.status_code != 200:
        return _Outcome(False, f"GET /dry_run answered HTTP {reply.status_code}")
    try:
        body = reply.json()
    except ValueError:
        return _Outcome(False, "GET /dry_run answered something that is not JSON")
    if not isinstance(body, dict) or body.get("code") != 0:
        description = body.get("description", "") if isinstance(body, dict) else body
        return _Outcome(False, f"gateway up but dry_run failed: {description}")
    return _Outcome(True, "GET / answered 200, GET /dry_run code 0: every executor is ready")
