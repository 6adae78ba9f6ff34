"""What a gateway process is told about the Flow: the graph, where each executor's replicas
are, and how to admit and route requests. Built from a FlowSpec (local runs, export) or from the
`flowserve gateway` flags; plain data, no I/O."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config.graph import FlowGraph
from ..config.observability import ObservabilityOptions
from ..config.options import EXECUTOR_DEFAULTS, GatewayOptions, Polling
from ..config.spec import ExecutorSpec, FlowSpec
from ..errors import ConfigError
from ..executor import Batching, batch_slots
from .security import SecurityConfig

__all__ = ["DeploymentConfig", "GatewayConfig", "deployment_config"]


@dataclass(frozen=True)
class DeploymentConfig:
    """One executor deployment: its replicas' addresses and how to use them."""

    addresses: tuple[str, ...] = ()
    """One address per replica (a single shard)."""
    shards: tuple[tuple[str, ...], ...] = ()
    """Replica addresses per shard; overrides `addresses` when given."""
    concurrency: int = EXECUTOR_DEFAULTS.concurrency
    max_queue: int | None = EXECUTOR_DEFAULTS.max_queue
    balancing: str = EXECUTOR_DEFAULTS.balancing
    polling: Polling | dict[str, Polling] = EXECUTOR_DEFAULTS.polling
    timeout_send: float | None = EXECUTOR_DEFAULTS.timeout_send
    timeout_ejected: float | None = EXECUTOR_DEFAULTS.timeout_ejected
    retries: int = EXECUTOR_DEFAULTS.retries
    batch_slots: int = 0
    """Requests per replica let through to a dynamic-batching executor (its largest
    ``preferred_batch_size``) when that is more than `concurrency`; 0: not batching."""

    @property
    def slots_per_replica(self) -> int:
        """Requests in service per replica: `concurrency`, or enough to fill a batch."""
        return max(self.concurrency, self.batch_slots)

    @property
    def shard_addresses(self) -> tuple[tuple[str, ...], ...]:
        return self.shards or (self.addresses,)

    @classmethod
    def parse(cls, name: str, value: Any) -> DeploymentConfig:
        """From `--deployments` JSON: a list of addresses, or an object with `addresses`."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            return cls(addresses=tuple(str(a) for a in value))
        if not isinstance(value, Mapping):
            raise ConfigError(f"--deployments: executor {name!r}: expected a list of host:port "
                              f"or an object, got {type(value).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(f"--deployments: executor {name!r}: unknown key(s) "
                              f"{', '.join(unknown)} (known: {', '.join(sorted(known))})")
        data = dict(value)
        data["addresses"] = tuple(str(a) for a in data.get("addresses", ()))
        data["shards"] = tuple(tuple(str(a) for a in shard) for shard in data.get("shards", ()))
        if not data["addresses"] and not all(data["shards"] or [()]):
            raise ConfigError(f"--deployments: executor {name!r} has no addresses")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["addresses"] = list(self.addresses)
        data["shards"] = [list(shard) for shard in self.shards]
        if not data["shards"]:
            del data["shards"]
        if not data["batch_slots"]:
            del data["batch_slots"]
        if data["timeout_ejected"] == EXECUTOR_DEFAULTS.timeout_ejected:
            del data["timeout_ejected"]
        return data


def deployment_config(ex: ExecutorSpec,
                      addresses: Sequence[str] | Sequence[Sequence[str]],
                      declared: Mapping[str, Batching] | None = None) -> DeploymentConfig:
    """The gateway's view of an executor from its spec and where its replicas listen
    (a list of addresses, or one list per shard). `declared`: the class's own
    ``@dynamic_batching`` (endpoint -> Batching), which the spec's ``uses_dynamic_batching``
    overrides."""
    batching = {**(declared or {}),
                **{e: Batching(b.preferred_batch_size, b.timeout)
                   for e, b in ex.uses_dynamic_batching.items()}}
    shards: tuple[tuple[str, ...], ...] = ()
    flat: tuple[str, ...] = ()
    if addresses and not isinstance(addresses[0], str):
        shards = tuple(tuple(group) for group in addresses)
    else:
        flat = tuple(str(a) for a in addresses)
    return DeploymentConfig(
        addresses=flat, shards=shards, concurrency=ex.concurrency, max_queue=ex.max_queue,
        balancing=ex.balancing, polling=ex.polling, timeout_send=ex.timeout_send,
        timeout_ejected=ex.timeout_ejected, retries=ex.retries,
        batch_slots=batch_slots(batching.values()),
    )


@dataclass
class GatewayConfig:
    """Everything a gateway process needs (mirrors the `flowserve gateway` flags)."""

    graph: FlowGraph
    deployments: Mapping[str, DeploymentConfig]
    protocols: Sequence[str] = ("grpc",)
    ports: Sequence[int] = (0,)
    """One per protocol; 0 picks a free port."""
    options: GatewayOptions = field(default_factory=GatewayOptions)
    """Serving, admission and resilience settings: the Flow's whole ``with:`` block, or the
    `flowserve gateway` flags."""
    ready_fd: int | None = None
    observability: ObservabilityOptions = field(default_factory=ObservabilityOptions)
    security: SecurityConfig = field(default_factory=SecurityConfig)

    @classmethod
    def from_flow(cls, spec: FlowSpec, graph: FlowGraph,
                  addresses: Mapping[str, Sequence[str] | Sequence[Sequence[str]]],
                  declared: Mapping[str, Mapping[str, Batching]] | None = None,
                  ) -> GatewayConfig:
        """`declared`: executor -> its class's ``@dynamic_batching`` (when the classes are
        loaded, as in a local Flow)."""
        opts = spec.with_
        return cls(
            graph=graph,
            deployments={ex.name: deployment_config(ex, addresses[ex.name],
                                                    (declared or {}).get(ex.name))
                         for ex in spec.executors},
            protocols=list(opts.protocol), ports=list(opts.port or [0] * len(opts.protocol)),
            options=opts,
            observability=ObservabilityOptions.for_component(
                spec, port_monitoring=opts.port_monitoring),
            security=SecurityConfig.from_options(opts),
        )

    def to_argv(self) -> list[str]:
        """`flowserve gateway` flags that rebuild this config in another process/container."""
        opts = self.options
        argv = [
            "--graph", json.dumps({k: list(v) for k, v in self.graph.needs.items()}),
            "--deployments", json.dumps({k: d.to_json() for k, d in self.deployments.items()}),
            "--protocol", *self.protocols, "--port", *map(str, self.ports),
            "--host", opts.host, "--prefetch", str(opts.prefetch), "--name", opts.name,
            "--grace", str(opts.grace), "--max-queue", str(opts.max_queue),
            "--max-queue-per-client", str(opts.max_queue_per_client),
            "--retry-budget", str(opts.retry_budget),
        ]
        if opts.client_weights:
            argv += ["--client-weights", json.dumps(dict(opts.client_weights))]
        if opts.trusted_proxies:
            argv += ["--trusted-proxies", *opts.trusted_proxies]
        if opts.timeout is not None:
            argv += ["--timeout", str(opts.timeout)]
        if not opts.retries:
            argv += ["--no-retries"]
        if opts.cors:
            argv += ["--cors"]
        return argv + self.observability.to_argv() + self.security.to_argv()
