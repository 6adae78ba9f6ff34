"""Streaming endpoints through the gateway core: one document in, the documents the handler
yields out, forwarded as they come. Knows nothing of gRPC or HTTP.

A stream goes to the one executor of the Flow that serves its endpoint (by name, or with a
``/default`` handler; `target_executor` narrows the candidates): the executors that do not
serve it would pass a post through unchanged, so skipping them changes nothing. Two executors
serving it is an error naming them, as is an endpoint nobody serves or one whose handler is
not a generator (docs/streaming.md). What each executor serves is asked once, from its
``endpoint_discovery``, and kept.

The stream then waits for its client's fair turn in that executor's `FairQueue`, like a post,
and holds the slot until the stream ends; it goes to one replica chosen by the balancing
policy. A replica that cannot be reached before anything was streamed is ejected and the
stream retried on another (within `retries`); once documents flowed, a failure ends the stream
with the error. Closing the stream (the client went away) cancels the call to the replica,
which closes the handler's generator there.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import TYPE_CHECKING

from ..config.graph import FlowGraph
from ..errors import (
    BadRequestError,
    DeadlineExceededError,
    ReplicaLostError,
    RequestError,
    UnavailableError,
)
from ..executor import DEFAULT_ENDPOINT
from ..wire.deadline import Deadline
from ..wire.stream import StreamMessage, is_error
from .balancer import NoReplicaError
from .observer import Observer, failure_of

if TYPE_CHECKING:
    from .deployment import Deployment
    from .replicas import ReplicaSet

__all__ = ["StreamRouter"]

DISCOVERY_TIMEOUT = 5.0


class StreamRouter:
    """Routes streams of a Flow to the executor that serves their endpoint."""

    def __init__(self, graph: FlowGraph, deployments: Mapping[str, Deployment], *,
                 observer: Observer, target: Callable[[str], re.Pattern[str]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.graph = graph
        self.deployments = deployments
        self.observer = observer
        self.target = target  # target_executor pattern -> compiled (BadRequestError if bad)
        self.clock = clock
        self._kinds: dict[str, dict[str, bool]] = {}

    async def endpoint_kinds(self, executor: str) -> dict[str, bool]:
        """Endpoint -> is a streaming endpoint, for `executor` (asked once, then kept)."""
        kinds = self._kinds.get(executor)
        if kinds is not None:
            return kinds
        failure: RequestError | None = None
        for replica in self.deployments[executor].replicas:
            try:
                kinds = await replica.endpoint_kinds(DISCOVERY_TIMEOUT)
            except RequestError as exc:
                failure = exc
                continue
            self._kinds[executor] = kinds
            return kinds
        raise UnavailableError(f"executor {executor!r}: its endpoints could not be asked "
                               f"({failure})")

    async def executor_for(self, endpoint: str, target: str | None = None) -> str:
        """The one executor that serves `endpoint` with a streaming handler; raises
        BadRequestError naming what is wrong otherwise."""
        pattern = self.target(target) if target else None
        candidates = [n for n in self.graph.order if pattern is None or pattern.match(n)]
        missing = [n for n in candidates if n not in self._kinds]
        if missing:  # asked once per executor; after that, no task per stream
            await asyncio.gather(*(self.endpoint_kinds(n) for n in missing))
        kinds = {n: self._kinds[n] for n in candidates}
        serving = [n for n in candidates if endpoint in kinds[n] or DEFAULT_ENDPOINT in kinds[n]]
        if not serving:
            known = sorted({e for k in kinds.values() for e in k})
            raise BadRequestError(
                f"no executor of this Flow serves endpoint {endpoint!r}"
                + (f" matching target_executor {target!r}" if target else "")
                + f" (endpoints: {', '.join(known) or 'none'})")
        if len(serving) > 1:
            raise BadRequestError(
                f"endpoint {endpoint!r} is served by {len(serving)} executors "
                f"({', '.join(serving)}); a stream goes through exactly one executor: "
                "narrow it with target_executor, or serve the endpoint from one executor")
        name = serving[0]
        streams = kinds[name].get(endpoint, kinds[name].get(DEFAULT_ENDPOINT))
        if not streams:
            raise BadRequestError(
                f"endpoint {endpoint!r} of executor {name!r} is not a streaming endpoint: its "
                "handler is not a generator (call it with post)")
        deployment = self.deployments[name]
        if deployment.polling_for(endpoint) == "ALL" and len(deployment.shards) > 1:
            raise BadRequestError(
                f"endpoint {endpoint!r} of executor {name!r} polls ALL of its "
                f"{len(deployment.shards)} shards; a stream goes to one shard (polling ANY)")
        return name

    async def stream(self, request: StreamMessage, *, deadline: Deadline | None = None,
                     client: str = "", origin: object = None,
                     ) -> AsyncGenerator[StreamMessage, None]:
        """The replies of one stream for `client`; `deadline` bounds all of it. Errors before
        the first reply (routing, overload, deadline, no replica) and failures of the
        transport raise `RequestError`s; an executor error is the last reply (ERROR status).
        Close the generator to stop early (cancels the executor's call)."""
        header = request.header
        endpoint = header.exec_endpoint or DEFAULT_ENDPOINT
        started = self.clock()
        self.observer.request_started(endpoint=endpoint, client=client,
                                      request_id=header.request_id, origin=origin)
        outcome, error = "success", None
        try:
            target = header.target_executor if header.HasField("target_executor") else None
            name = await self.executor_for(endpoint, target)
            deployment = self.deployments[name]
            slot = await deployment.admit(client, deadline)
            held = self.clock()
            try:
                replies = _from_shard(deployment.pick_shard(), request, endpoint, deadline)
                try:
                    async for reply in replies:
                        if is_error(reply):
                            outcome = "executor_error"
                        yield reply
                finally:
                    await replies.aclose()
            finally:
                deployment.queue.release(slot, service_time=self.clock() - held)
        except BaseException as exc:
            outcome, error = failure_of(exc)
            raise
        finally:
            self.observer.request_finished(endpoint=endpoint, outcome=outcome,
                                           seconds=self.clock() - started, error=error)


async def _from_shard(shard: ReplicaSet, request: StreamMessage, endpoint: str,
                      deadline: Deadline | None) -> AsyncGenerator[StreamMessage, None]:
    """One replica's replies, retrying on another replica while nothing was streamed (within
    `retries` and the Flow's retry budget, as a post)."""
    if shard.budget is not None:
        shard.budget.record_request()
    tried: set[int] = set()
    while True:
        try:
            call = shard.pick(tried)
        except NoReplicaError:
            raise UnavailableError(f"executor {shard.name!r}: no healthy replica left to try "
                                   f"({len(tried)} tried, {len(shard.replicas)} in all)"
                                   ) from None
        i = call.replica
        remaining = None if deadline is None else deadline.time_remaining()
        if remaining is not None and remaining <= 0:
            call.abandon()
            raise DeadlineExceededError(
                f"deadline exceeded before streaming from executor {shard.name!r}")
        replies = shard.replicas[i].stream(request, endpoint=endpoint, timeout=remaining)
        streamed = False
        try:
            async for reply in replies:
                streamed = True
                yield reply
        except UnavailableError as exc:  # (and ReplicaLostError) the replica failed
            call.done(ok=False)
            shard.eject(i)
            tried.add(i)
            if streamed or isinstance(exc, ReplicaLostError) or len(tried) > shard.retries or (
                    shard.budget is not None and not shard.budget.try_retry()):
                raise
            continue
        except BaseException:  # deadline, bad request, closed early, cancelled: nothing said
            call.abandon()       # about the replica
            raise
        finally:
            await replies.aclose()
        call.abandon()  # a stream's length is no latency sample for the balancer
        return
