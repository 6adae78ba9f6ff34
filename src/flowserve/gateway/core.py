"""The gateway core: walks a request through the Flow's DAG. Knows nothing of gRPC or HTTP.

Each executor node runs once all the nodes it `needs` are done; where branches join their
outputs are merged (docs by id). The response carries the merged output of the sink nodes and
one route per executor visited, after the gateway's own route. An executor error stops the
request there and comes back in the response status; transport failures (unreachable executor,
deadline) raise the matching `flowserve.errors.RequestError` for the adapter to map.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from functools import lru_cache
from typing import Any

from .._version import __version__
from ..config.graph import FlowGraph
from ..config.ratelog import RateLimitedLog
from ..errors import BadRequestError, DeadlineExceededError, RequestError
from ..executor import DEFAULT_ENDPOINT
from ..proto import jina_pb2
from ..wire.deadline import Deadline
from ..wire.request import DataRequest
from ..wire.status import known_error
from ..wire.stream import StreamMessage
from .attempts import Attempts
from .deployment import Deployment
from .merge import merge_requests
from .observer import NullObserver, Observer, failure_of
from .streaming import StreamRouter

__all__ = ["GatewayCore", "error_response", "unexpected_error"]

START = "gateway"

_unexpected = RateLimitedLog(logging.getLogger("flowserve.gateway"))


class _ExecutorFailed(Exception):
    """Internal: an executor replied with an error status; carries that reply."""

    def __init__(self, reply: DataRequest) -> None:
        self.reply = reply


@lru_cache(maxsize=256)
def _target_regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise BadRequestError(f"invalid target_executor regex {pattern!r}: {exc}") from None


def _stamp(ts: Any, seconds: float) -> None:
    whole = int(seconds)
    ts.seconds = whole
    ts.nanos = int((seconds - whole) * 1e9)


class _Walk:
    """The state of one request's walk through the DAG."""

    def __init__(self, core: GatewayCore, request: DataRequest, deadline: Deadline | None,
                 client: str) -> None:
        self.core = core
        self.client = client
        self.request = request
        self.endpoint = request.endpoint or DEFAULT_ENDPOINT
        target = request.target_executor
        self.target = _target_regex(target) if target else None
        self.deadline = deadline
        # (executor, start, end, error status or None) per executor visited, in order; the
        # RouteProtos are built once, into the response (`GatewayCore._finish`).
        self.routes: list[tuple[str, float, float, jina_pb2.StatusProto | None]] = []
        self.tasks: dict[str, asyncio.Task[DataRequest]] = {}

    def node(self, name: str) -> asyncio.Future[DataRequest] | asyncio.Task[DataRequest]:
        if name == START:
            done: asyncio.Future[DataRequest] = asyncio.get_running_loop().create_future()
            done.set_result(self.request)
            return done
        task = self.tasks.get(name)
        if task is None:
            task = self.tasks[name] = asyncio.create_task(self._run(name))
        return task

    async def _run(self, name: str) -> DataRequest:
        needs = self.core.graph.needs[name]
        pending = [self.node(n) for n in needs]  # all started before any is awaited
        inputs = [await p for p in pending]
        base = await self.node(self.core.join_base[name]) if len(needs) > 1 else None
        return await self.visit(name, merge_requests(inputs, base))

    async def run_chain(self, names: list[str]) -> DataRequest:
        """A linear Flow: visit each executor in turn, without a task per node."""
        request = self.request
        for name in names:
            request = await self.visit(name, request)
        return request

    async def visit(self, name: str, request: DataRequest) -> DataRequest:
        """Send `request` to executor `name` (unless target_executor excludes it)."""
        if self.target is not None and not self.target.match(name):
            return request
        now = self.core.clock()
        if self.deadline is not None and self.deadline.time_remaining() <= 0:
            raise DeadlineExceededError(
                f"deadline exceeded at the gateway before sending to executor {name!r}"
            )
        attempts = Attempts()
        reply_pb = await self.core.deployments[name].process(
            request.proto, endpoint=self.endpoint, deadline=self.deadline, client=self.client,
            attempts=attempts,
        )
        reply = DataRequest(reply_pb)
        if not reply.is_error:  # a retried reply's route says so (wire.retried)
            self.routes.append((name, now, self.core.clock(), attempts.status()))
            return reply
        status = jina_pb2.StatusProto()  # a copy: the reply's header is rewritten later
        status.CopyFrom(reply.status)
        attempts.mark(status)  # the error came from a retry: the route says so too
        self.routes.append((name, now, self.core.clock(), status))
        raise _ExecutorFailed(reply)

    def cancel_pending(self) -> None:
        for task in self.tasks.values():
            if not task.done():
                task.cancel()


def error_response(request: DataRequest, exc: Exception) -> DataRequest:
    """A reply for `request` that failed in the gateway (overload, deadline, unreachable)."""
    reply = DataRequest()
    reply.header.CopyFrom(request.header)
    reply.set_error(str(exc), name=type(exc).__name__)
    return reply


def unexpected_error(exc: Exception) -> RequestError:
    """A RequestError for an exception that escaped the per-request error path, so that it
    fails only its own request, with a message that says what happened (`known_error`; else an
    internal error, logged)."""
    known = known_error(exc)
    if known is not None:
        return known
    _unexpected.log(type(exc).__name__, "unexpected error serving a request: %s: %s",
                    type(exc).__name__, exc, exc_info=exc, level=logging.ERROR)
    return RequestError(f"internal error in the gateway: {type(exc).__name__}: {exc}")


def _as_chain(graph: FlowGraph) -> list[str] | None:
    """The executors in order if the Flow is a simple chain (or empty), else None."""
    previous = START
    for name in graph.order:
        if graph.needs[name] != (previous,):
            return None
        previous = name
    return list(graph.order)


def _join_bases(graph: FlowGraph) -> dict[str, str]:
    """For each fan-in node, the nearest node all its branches descend from (their common
    starting point, against which their changes are merged)."""
    position = {START: -1, **{n: i for i, n in enumerate(graph.order)}}
    ancestors: dict[str, set[str]] = {START: set()}
    for name in graph.order:
        ancestors[name] = set().union(*({p, *ancestors[p]} for p in graph.needs[name]))
    bases = {}
    for name in graph.order:
        needs = graph.needs[name]
        if len(needs) > 1:
            common = set.intersection(*({p, *ancestors[p]} for p in needs))
            bases[name] = max(common, key=position.__getitem__)
    return bases


class GatewayCore:
    """Routes requests through executor deployments along a FlowGraph."""

    def __init__(
        self,
        graph: FlowGraph,
        deployments: Mapping[str, Deployment],
        *,
        name: str = START,
        clock: Callable[[], float] = time.time,
        observer: Observer | None = None,
    ) -> None:
        missing = [n for n in graph.order if n not in deployments]
        if missing:
            raise ValueError(f"no addresses given for executor(s) {', '.join(missing)}")
        self.graph = graph
        self.join_base = _join_bases(graph)
        self._chain = _as_chain(graph)
        self.deployments = dict(deployments)
        self.name = name
        self.clock = clock
        self.observer: Observer = observer or NullObserver()
        self.streams = StreamRouter(graph, self.deployments, observer=self.observer,
                                    target=_target_regex)

    def stream(self, request: StreamMessage, *, deadline: Deadline | None = None,
               client: str = "", origin: object = None) -> AsyncGenerator[StreamMessage, None]:
        """Serve one stream of a streaming endpoint for `client` (`gateway/streaming.py`);
        `origin` goes to the observer unread, as for `process`."""
        return self.streams.stream(request, deadline=deadline, client=client, origin=origin)

    async def process(self, request: DataRequest, *, deadline: Deadline | None = None,
                      client: str = "", origin: object = None) -> DataRequest:
        """Serve one request for `client`; `deadline` bounds the whole walk. `origin` (the
        adapter's `flowserve.wire.origin`) goes to the observer unread."""
        started = self.clock()
        walk = _Walk(self, request, deadline, client)
        self.observer.request_started(endpoint=walk.endpoint, client=client,
                                      request_id=request.request_id or "", origin=origin)
        outcome = "success"
        error: BaseException | None = None
        try:
            if self._chain is not None:
                response = await walk.run_chain(self._chain)
            else:
                sinks = [walk.node(s) for s in self.graph.sinks]  # branches run in parallel
                outputs = [await s for s in sinks]
                response = merge_requests(outputs)
        except _ExecutorFailed as failed:
            response = failed.reply
            outcome = "executor_error"
        except BaseException as exc:
            outcome, error = failure_of(exc)
            raise
        finally:
            walk.cancel_pending()
            self.observer.request_finished(endpoint=walk.endpoint, outcome=outcome,
                                           seconds=self.clock() - started, error=error)
        return self._finish(response, request, walk, started)

    def _finish(
        self, response: DataRequest, request: DataRequest, walk: _Walk, started: float
    ) -> DataRequest:
        pb = response.proto
        header = pb.header
        if header.HasField("status"):  # keep the executors' status, take the rest from the request
            kept = jina_pb2.StatusProto()
            kept.CopyFrom(header.status)
            header.CopyFrom(request.header)
            header.status.CopyFrom(kept)
        else:
            header.CopyFrom(request.header)
        routes = pb.routes
        del routes[:]
        add = routes.add
        for executor, start, end, status in [(self.name, started, self.clock(), None),
                                             *walk.routes]:
            route = add(executor=executor)
            _stamp(route.start_time, start)
            _stamp(route.end_time, end)
            if status is not None:
                route.status.CopyFrom(status)
        # A fresh view of the encoded message: the adapters' `.proto` must not encode the
        # docs of a merged response a second time.
        return DataRequest(pb)

    async def dry_run(self, timeout: float = 5.0) -> list[str]:
        """Check every replica is reachable; returns the problems found (empty when healthy)."""
        problems: list[str] = []
        for name, deployment in self.deployments.items():
            for replica in deployment.replicas:
                if not await replica.is_ready(timeout):
                    problems.append(f"executor {name!r} replica at {replica.address} is not ready")
        return problems

    async def endpoints(self, timeout: float = 5.0) -> list[str]:
        """The union of all executors' endpoints (asks one replica of each)."""
        found: set[str] = set()
        for deployment in self.deployments.values():
            found.update(await deployment.replicas[0].endpoints(timeout))
        return sorted(found)

    def info(self) -> dict[str, str]:
        """Versions and topology, for `_status` and `GET /status`."""
        return {
            "flowserve": __version__,
            "role": "gateway",
            "executors": ",".join(self.graph.order),
        }

    def snapshot(self) -> dict[str, Any]:
        """Queues per deployment and per client: queued, in flight, admitted, rejected."""
        deployments = {name: d.snapshot() for name, d in self.deployments.items()}
        clients: dict[str, dict[str, int]] = {}
        for snap in deployments.values():
            for client, stats in snap.clients.items():
                total = clients.setdefault(
                    client, {"queued": 0, "in_flight": 0, "admitted": 0, "rejected": 0})
                total["queued"] += stats.queued
                total["in_flight"] += stats.in_flight
                total["admitted"] += stats.admitted
                total["rejected"] += stats.rejected
        return {"deployments": deployments, "clients": clients}

    async def close(self) -> None:
        for deployment in self.deployments.values():
            await deployment.close()
