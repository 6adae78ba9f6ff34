"""Active health checks of executor replicas: eject the failing, re-admit the recovered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from .deployment import Deployment

__all__ = ["monitor_replicas"]

log = logging.getLogger(__name__)


async def _check(deployment: Deployment, timeout: float) -> None:
    for shard in deployment.shards:
        results = await asyncio.gather(*(r.is_ready(timeout) for r in shard.replicas))
        for i, ready in enumerate(results):
            ejected = shard.balancer.is_ejected(i)
            if ready:
                if ejected:
                    log.info("executor %s replica %s is healthy again: re-admitted",
                             deployment.name, shard.replicas[i].address)
                shard.readmit(i)  # also lifts the notice of calls still running on it
            elif not ready and not ejected:
                log.warning("executor %s replica %s failed its health check: ejected",
                            deployment.name, shard.replicas[i].address)
                shard.eject(i)
    deployment.refresh()


async def monitor_replicas(deployments: Iterable[Deployment], stop: asyncio.Event, *,
                           interval: float = 1.0, timeout: float = 0.5) -> None:
    """Every `interval` seconds, health-check every replica (grpc.health.v1) until `stop`."""
    deployments = list(deployments)
    while not stop.is_set():
        await asyncio.gather(*(_check(d, timeout) for d in deployments))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
