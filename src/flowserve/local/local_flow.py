"""Start, supervise and stop all processes of a Flow on this machine."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from ..config.executor_argv import executor_spec_argv
from ..config.graph import FlowGraph, build_graph
from ..config.loader import ResolvedExecutor, resolve_executor
from ..config.observability import ObservabilityOptions
from ..config.spec import ExecutorSpec, FlowSpec
from ..errors import ConfigError, FlowStartError
from ..executor import Batching, declared_batching
from ..gateway.config import GatewayConfig
from ..gateway.limits import executor_limit_args, executor_tls_args
from .process import ChildProcess, wait_all_ready
from .supervisor import Supervisor
from .template import Template, fork_safe

__all__ = ["START_METHODS", "FlowAddresses", "LocalFlow"]

log = logging.getLogger("flowserve.local")

EXECUTOR_HOST = "127.0.0.1"  # executors of a local Flow are internal: loopback only
START_METHODS = ("auto", "fork", "spawn")
"""How a Flow starts its processes: ``fork`` them from a template forked from this process
(the default ``auto`` does when this process can safely fork, see `template.fork_safe`), or
``spawn`` a new interpreter for each."""
# What a template imports before it forks: the executors' stack, then the gateway's (while
# the executors load their classes); the HTTP stack only for a Flow that serves HTTP.
_WORKER_MODULES = ("flowserve.cli.main", "flowserve.servers.worker")
_GATEWAY_MODULES = ("flowserve.servers.gateway",)
_HTTP_MODULES = ("flowserve.gateway.http_app", "flowserve.transport.http_server",
                 "flowserve.gateway.websocket_app")


@dataclass
class FlowAddresses:
    """Where the parts of a running local Flow listen."""

    gateway_host: str
    gateway_ports: dict[str, int]  # protocol -> port
    executors: dict[str, list[str]] = field(default_factory=dict)  # name -> host:port per replica
    gateway_monitoring_port: int | None = None  # /metrics and /dashboard, with monitoring on
    executor_monitoring: dict[str, list[str]] = field(default_factory=dict)
    """name -> host:port of /metrics per replica, for executors with monitoring on."""

    def _host(self) -> str:
        return "127.0.0.1" if self.gateway_host in ("0.0.0.0", "::", "") else self.gateway_host

    def gateway_url(self, protocol: str | None = None) -> str:
        protocol = protocol or next(iter(self.gateway_ports))
        scheme = "ws" if protocol == "websocket" else protocol
        return f"{scheme}://{self._host()}:{self.gateway_ports[protocol]}"

    @property
    def metrics_url(self) -> str | None:
        """The gateway's Prometheus endpoint, or None with monitoring off."""
        port = self.gateway_monitoring_port
        return None if port is None else f"http://{self._host()}:{port}/metrics"

    @property
    def dashboard_url(self) -> str | None:
        """The live dashboard, or None with monitoring off."""
        port = self.gateway_monitoring_port
        return None if port is None else f"http://{self._host()}:{port}/dashboard"


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # Children import whatever this process can import (tests' fixture modules, user code).
    paths = [p or os.getcwd() for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def _base_argv(command: str) -> list[str]:
    return [sys.executable, "-m", "flowserve", command, "--die-with-parent"]


def _process_name(name: str, shard: int, shards: int, replica: int, replicas: int) -> str:
    parts = [name]
    if shards > 1:
        parts.append(f"shard-{shard}")
    if replicas > 1:
        parts.append(str(replica))
    return "/".join(parts)


def executor_argv(ex: ExecutorSpec, resolved: ResolvedExecutor, *, replica_id: int,
                  port: int, shard_id: int = 0) -> list[str]:
    """The `flowserve executor` command line for one replica."""
    argv = _base_argv("executor") + [
        "--uses", resolved.ref, "--name", ex.name, "--host", EXECUTOR_HOST, "--port", str(port),
        "--replica-id", str(replica_id), "--shard-id", str(shard_id),
        "--concurrency", str(ex.concurrency), "--base-dir", str(resolved.base_dir),
    ]
    argv += executor_spec_argv(ex, uses_with=resolved.uses_with,
                               uses_metas=resolved.uses_metas, py_modules=resolved.py_modules)
    return argv


def executor_observability_argv(spec: FlowSpec, ex: ExecutorSpec, *, index: int) -> list[str]:
    """Monitoring and tracing flags of the `index`-th process of `ex` (replicas of a fixed
    ``port_monitoring`` take the following ports, like ``port``; otherwise free ports)."""
    port = ex.port_monitoring + index if ex.port_monitoring else 0
    return ObservabilityOptions.for_component(spec, ex, port_monitoring=port).to_argv()


def gateway_argv(spec: FlowSpec, graph: FlowGraph,
                 addresses: Mapping[str, Sequence[str] | Sequence[Sequence[str]]],
                 declared: Mapping[str, Mapping[str, Batching]] | None = None) -> list[str]:
    """The `flowserve gateway` command line for a Flow whose executors are at `addresses`
    (a list of replica addresses per executor, or one list per shard); `declared`: each
    executor class's ``@dynamic_batching``."""
    config = GatewayConfig.from_flow(spec, graph, addresses, declared)
    return _base_argv("gateway") + config.to_argv()


class LocalFlow:
    """The processes of one Flow. `start()` returns once everything is ready."""

    def __init__(self, spec: FlowSpec, *, log_to: TextIO | None = None,
                 grace: float | None = None, start_method: str = "auto"):
        if start_method not in START_METHODS:
            raise ConfigError(f"start method {start_method!r}: expected one of "
                              f"{', '.join(START_METHODS)}")
        self.spec = spec
        self.start_method = start_method
        self.template: Template | None = None
        self.graph = build_graph(spec)
        # how long a process may take to drain after SIGTERM (default: the Flow's `grace`)
        self.grace = spec.with_.grace if grace is None else grace
        self._log_to = log_to
        self.children: list[ChildProcess] = []
        self.addresses: FlowAddresses | None = None
        self.supervisor = Supervisor(ready_timeout=spec.with_.timeout_ready)
        # Resolve every `uses` now, in this process: a bad import fails before anything starts.
        self._resolved = {
            ex.name: resolve_executor(ex, spec.base_dir) for ex in spec.executors if not ex.external
        }

    def _spawn(self, role: str, name: str, argv: list[str], env: dict[str, str]) -> ChildProcess:
        child = ChildProcess(name, argv, _child_env(env), role=role, log_to=self._log_to,
                             template=self.template)
        self.children.append(child)
        child.start()
        return child

    def start(self) -> FlowAddresses:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _fork_template(self) -> None:
        """Fork the template now, before this Flow starts any thread, if allowed and safe."""
        if self.start_method == "spawn":
            return
        if fork_safe():
            try:
                self.template = Template.fork(preload=_WORKER_MODULES)
            except OSError as exc:  # out of memory or processes: new interpreters may still do
                if self.start_method == "fork":
                    raise FlowStartError(f"start method 'fork': cannot fork: {exc}") from exc
                log.warning("cannot fork the template (%s): starting a new interpreter per "
                            "process", exc)
        elif self.start_method == "fork":
            raise FlowStartError(
                "start method 'fork': this process cannot fork safely now (other threads, "
                "gRPC in use, or a running event loop); use 'auto' or 'spawn'")

    def _start(self) -> FlowAddresses:
        spec = self.spec
        timeout = spec.with_.timeout_ready
        self._fork_template()
        replicas: dict[str, list[ChildProcess]] = {}
        addresses: dict[str, list[str]] = {}  # every replica of every shard, in order
        per_shard: dict[str, list[str] | list[list[str]]] = {}  # what the gateway is told
        shards: dict[str, int] = {}
        for ex in spec.executors:
            if ex.external:
                addresses[ex.name] = per_shard[ex.name] = [f"{ex.host}:{ex.port}"]
                continue
            resolved = self._resolved[ex.name]
            env = {**spec.with_.env, **ex.env}
            shards[ex.name] = ex.shards
            replicas[ex.name] = [
                self._spawn(
                    "executor",
                    _process_name(ex.name, shard, ex.shards, i, ex.replicas),
                    executor_argv(ex, resolved, replica_id=i, shard_id=shard,
                                  port=(ex.port + shard * ex.replicas + i) if ex.port else 0)
                    + executor_observability_argv(spec, ex, index=shard * ex.replicas + i)
                    + executor_limit_args(spec.with_.max_message_bytes)
                    + executor_tls_args(spec.with_.executor_ssl_certfile,
                                        spec.with_.executor_ssl_keyfile),
                    env,
                )
                for shard in range(ex.shards)
                for i in range(ex.replicas)
            ]
        if self.template is not None:  # imported while the executors load their classes
            serves_http = set(spec.with_.protocol) & {"http", "websocket"}
            self.template.preload(_GATEWAY_MODULES + (_HTTP_MODULES if serves_http else ()))
        # an executor's own timeout_ready (e.g. a model that loads slowly) extends the wait
        waits = [ex.timeout_ready for ex in spec.executors if ex.timeout_ready is not None]
        wait_all_ready([c for cs in replicas.values() for c in cs], max([timeout, *waits]))
        for name, children in replicas.items():
            found = [f"{EXECUTOR_HOST}:{c.info['port']}" for c in children if c.info]
            addresses[name] = per_shard[name] = found
            if shards[name] > 1:
                per = len(found) // shards[name]
                per_shard[name] = [found[k * per:(k + 1) * per] for k in range(shards[name])]
        gateway = self._spawn("gateway", spec.with_.name,
                              gateway_argv(spec, self.graph, per_shard, {
                                  name: declared_batching(r.cls)
                                  for name, r in self._resolved.items()}),
                              dict(spec.with_.env))
        wait_all_ready([gateway], timeout)
        assert gateway.info is not None
        self.addresses = FlowAddresses(
            spec.with_.host, dict(gateway.info["ports"]), addresses,
            gateway_monitoring_port=gateway.info.get("monitoring_port"),
            executor_monitoring={
                name: [f"{EXECUTOR_HOST}:{c.info['monitoring_port']}" for c in children
                       if c.info and c.info.get("monitoring_port") is not None]
                for name, children in replicas.items()
                if any(c.info and c.info.get("monitoring_port") for c in children)
            },
        )
        for child in self.children:
            info = child.info
            if info is not None:
                child.pin("--port", [info["port"]] if "port" in info
                          else list(info["ports"].values()))
                if info.get("monitoring_port") is not None:
                    child.pin("--port-monitoring", [info["monitoring_port"]])
            self.supervisor.watch(child)
        return self.addresses

    def stop(self) -> None:
        """Gateway first (it drains in-flight requests), then executors; no orphans left."""
        self.supervisor.stop()
        with self.supervisor.lock:
            gateways = [c for c in self.children if c.role == "gateway"]
            executors = [c for c in self.children if c.role != "gateway"]
            for group in (gateways, executors):
                self._stop_group(group)
            for child in self.children:
                child.close()
            if self.template is not None:
                self.template.close()
                self.template = None
        self.supervisor.join()
        self.children.clear()

    def kill(self) -> None:
        """Stop at once (a second Ctrl-C): SIGKILL every process; `stop()` then reaps them."""
        self.supervisor.stop()
        for child in list(self.children):
            child.kill()
        if self.template is not None:
            self.template.kill()

    def _stop_group(self, group: Sequence[ChildProcess]) -> None:
        for child in group:
            child.terminate()
        deadline = time.monotonic() + self.grace + 5  # one wait for all, not grace+5 each
        for child in group:
            if child.wait(max(0.0, deadline - time.monotonic())) is None:
                child.kill()
                child.wait(5)
