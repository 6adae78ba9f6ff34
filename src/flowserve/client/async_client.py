"""`AsyncClient`: send documents to a flowserve (or Jina 3) gateway from async code."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Self

from ..documents.array import DocumentArray
from ..documents.document import Document
from ..documents.ids import new_id
from ..errors import OverloadedError
from ..wire.deadline import MAX_TIMEOUT
from ..wire.request import DataRequest
from ..wire.stream import new_stream_request
from ._address import Address, parse_address
from ._batching import InputType, count_requests, iter_requests
from ._callbacks import Callback, ResultSink
from ._engine import Stream, run_post
from ._grpc import GrpcTransport
from ._inflight import InFlight
from ._reporter import ProgressReporter
from ._retry import RetryingSink, backoff_delay
from ._transport import Transport

if TYPE_CHECKING:  # httpx costs a gRPC client a third of a second to import: only for HTTP
    import httpx

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_PREFETCH", "AsyncClient", "Metadata"]

DEFAULT_PREFETCH = 100  # requests in flight per post (0: unlimited); the gateway admits at most
# max_queue_per_client (100) of a client anyway, and a larger window only holds inputs in memory

Metadata = Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(metadata: Metadata | None) -> list[tuple[str, str]]:
    if not metadata:
        return []
    items = metadata.items() if isinstance(metadata, Mapping) else metadata
    return [(str(k), str(v)) for k, v in items]


class AsyncClient:
    """A client for a gateway at ``host`` (``grpc://h:p``, ``http://h:p``, ``h:p`` or ``h``).

    The constructor does no I/O; the gRPC channel or HTTP connection pool is opened on first
    use and reused by every post until `close`. ``http_transport`` replaces the network for
    HTTP (e.g. ``httpx.ASGITransport(app)``); ``grpc_options`` are extra channel options.
    ``client_id`` names this client to the gateway's fair queuing (sent with every request;
    default: a random id per instance, so clients behind one proxy stay apart).
    ``grpcs://`` and ``https://`` gateways are trusted through the system's roots
    (``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``, ``SSL_CERT_FILE``) or ``ca_file``, a PEM CA bundle.
    ``token`` is sent as a bearer token (``authorization: Bearer ...``) with every request.
    ``_blocking`` is `Client`'s: its private loop runs one post at a time, which an HTTP post
    of one request may block (`HttpTransport`).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | str | None = None,
        protocol: str | None = None,
        *,
        http_transport: httpx.AsyncBaseTransport | None = None,
        grpc_options: Sequence[tuple[str, Any]] = (),
        client_id: str | None = None,
        ca_file: str | None = None,
        token: str | None = None,
        _blocking: bool = False,
    ) -> None:
        self.address: Address = parse_address(host, port, protocol)
        self.client_id = client_id or new_id()
        self._transport: Transport
        if self.address.protocol == "grpc":
            self._transport = GrpcTransport(self.address, options=grpc_options,
                                            client_id=self.client_id, ca_file=ca_file,
                                            token=token)
        else:
            from ._http import HttpTransport

            self._transport = HttpTransport(self.address, transport=http_transport,
                                            client_id=self.client_id, ca_file=ca_file,
                                            token=token, blocking=_blocking)
        self._closed = False

    @property
    def host(self) -> str:
        return self.address.host

    @property
    def port(self) -> int:
        return self.address.port

    @property
    def protocol(self) -> str:
        return self.address.protocol

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.address}>"

    async def post(
        self,
        on: str = "/",
        inputs: InputType = None,
        *,
        request_size: int = 100,
        on_done: Callback | None = None,
        on_error: Callback | None = None,
        on_always: Callback | None = None,
        parameters: dict[str, Any] | None = None,
        target_executor: str | None = None,
        prefetch: int | None = None,
        continue_on_error: bool = False,
        results_in_order: bool = False,
        show_progress: bool = False,
        timeout: float | None = None,
        return_responses: bool = False,
        metadata: Metadata | None = None,
        retries: int = 0,
        retry_backoff: float = 0.5,
        retry_max_backoff: float = 10.0,
    ) -> DocumentArray | list[DataRequest] | None:
        """Send `inputs` to endpoint `on`, in requests of `request_size` docs.

        `inputs` is a Document, a DocumentArray, any iterable or generator of Documents
        (taken lazily: at most `prefetch` batches exist at once), or None for one request
        without docs. At most `prefetch` requests are in flight (None: 100, 0: unlimited).

        Each answer goes to ``on_done`` (success) or ``on_error`` (status ERROR, or a
        per-request transport failure such as overload or deadline, turned into an error
        response named after the flowserve error), then ``on_always``. Callbacks may be
        functions or coroutine functions. Without ``on_error`` an error raises the matching
        flowserve error (ExecutorError for executor failures), unless `continue_on_error`,
        which logs it and goes on.

        Returns the response docs as one DocumentArray (arrival order; request order with
        `results_in_order`), or the responses with `return_responses`; None when any callback
        is given. `timeout` (seconds) is the gRPC deadline of the whole post and, on HTTP,
        each request's timeout; it is also sent as each request's ``header.timeout``.
        `metadata` is extra gRPC metadata (HTTP headers for HTTP). Raises UnavailableError
        at once when nothing listens at the address.

        `retries` > 0 sends requests the gateway shed for overload again, up to that many
        rounds, after a jittered exponential backoff starting at `retry_backoff` seconds
        (at least the server's Retry-After, at most `retry_max_backoff`); only the final
        outcome reaches the callbacks.
        """
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if not isinstance(on, str):
            raise TypeError(f"on must be an endpoint string such as '/index', got {on!r}")
        if timeout is not None and not timeout > 0:  # also nan
            raise ValueError(f"invalid timeout {timeout!r}: must be > 0 seconds")
        if timeout is not None and timeout >= MAX_TIMEOUT:  # inf included: no deadline
            timeout = None  # the wire's header.timeout holds uint32 ms (49.7 days) at most
        limit = DEFAULT_PREFETCH if prefetch is None else prefetch
        inflight = InFlight(limit, ordered=results_in_order)
        progress: ProgressReporter | None = None
        if show_progress:
            from ._progress import RichProgress  # rich is slow to import; only when asked

            progress = RichProgress(on, count_requests(inputs, request_size))
        sink = ResultSink(
            on_done=on_done,
            on_error=on_error,
            on_always=on_always,
            continue_on_error=continue_on_error,
            return_responses=return_responses,
            progress=progress,
        )
        requests = iter_requests(
            inputs,
            endpoint=on,
            request_size=request_size,
            parameters=parameters,
            target_executor=target_executor,
            timeout_ms=None if timeout is None else max(1, round(timeout * 1000)),
        )
        transport = self._transport
        stream_metadata = transport.stream_metadata(prefetch, results_in_order) + _pairs(metadata)

        async def open_stream(remaining: float | None) -> Stream:
            return await transport.open_stream(stream_metadata, remaining)

        if progress is not None:
            progress.start()
        try:
            if retries <= 0 and transport.single_posts:
                # A post that makes one request goes without a stream of its own.
                first, second = next(requests, None), next(requests, None)
                if first is not None and second is None:
                    reply = await transport.post_single(first, _pairs(metadata), timeout)
                    if isinstance(reply, tuple):  # this request alone failed
                        await sink.deliver(*reply)
                        return sink.result()
                    if reply is not None:
                        await sink.deliver(reply)
                        return sink.result()
                requests = itertools.chain((r for r in (first, second) if r is not None),
                                           requests)
            if retries <= 0:
                await run_post(open_stream, requests, sink, inflight, timeout=timeout,
                               where=str(self.address))
            else:
                await self._post_with_retries(open_stream, requests, sink, limit,
                                              results_in_order, timeout, retries,
                                              retry_backoff, retry_max_backoff)
        finally:
            if progress is not None:
                progress.stop()
        return sink.result()

    async def _post_with_retries(self, open_stream: Callable[[float | None], Awaitable[Stream]],
                                 requests: Iterator[DataRequest], sink: ResultSink,
                                 limit: int, ordered: bool, timeout: float | None, retries: int,
                                 backoff: float, max_backoff: float) -> None:
        retrying = RetryingSink(sink, retries)
        batch = retrying.track(requests)
        deadline = None if timeout is None else time.monotonic() + timeout  # the whole post
        remaining = timeout
        while True:
            await run_post(open_stream, batch, retrying, InFlight(limit, ordered=ordered),
                           timeout=remaining, where=str(self.address))
            held = retrying.take_held()
            if not held:
                return
            delay = backoff_delay(retrying.round, base=backoff, cap=max_backoff,
                                  hint=retrying.hint)
            if deadline is not None:
                remaining = deadline - time.monotonic() - delay
                if remaining <= 0:  # no time left for another round: report them as shed
                    for request in held:
                        await sink.deliver(request, OverloadedError(
                            f"{self.address} shed the request and the post's timeout of "
                            f"{timeout}s leaves no time to retry it"))
                    return
            logger.info("retrying %d overloaded request(s) in %.2f s (round %d of %d)",
                        len(held), delay, retrying.round, retries)
            await asyncio.sleep(delay)
            batch = retrying.track(iter(held))

    async def stream_doc(
        self,
        on: str,
        inputs: Document,
        parameters: dict[str, Any] | None = None,
        *,
        target_executor: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> AsyncGenerator[Document, None]:
        """Send one Document to the streaming endpoint `on` and yield each Document its
        handler yields, as it comes (docs/streaming.md): ``async for doc in
        client.stream_doc(on='/generate', inputs=Document(text='hi')): ...``.

        An error (the executor's, or the gateway's: unknown or non-streaming endpoint,
        overload, `timeout` for the whole stream) raises the matching flowserve error after
        the documents sent before it. Leaving the loop early cancels the stream, down to the
        executor's generator. Over HTTP the documents come as server-sent events.
        """
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if not isinstance(on, str):
            raise TypeError(f"on must be an endpoint string such as '/generate', got {on!r}")
        if not isinstance(inputs, Document):
            raise TypeError(f"stream_doc takes one Document as inputs, got "
                            f"{type(inputs).__name__}")
        if timeout is not None and not timeout > 0:  # also nan
            raise ValueError(f"invalid timeout {timeout!r}: must be > 0 seconds")
        if timeout is not None and timeout >= MAX_TIMEOUT:
            timeout = None
        request = new_stream_request(
            inputs, endpoint=on, parameters=parameters, target_executor=target_executor,
            timeout_ms=None if timeout is None else max(1, round(timeout * 1000)))
        docs = self._transport.stream_doc(request, _pairs(metadata), timeout)
        try:
            async for doc in docs:
                yield doc
        finally:
            await docs.aclose()

    async def dry_run(self, timeout: float | None = None) -> bool:
        """True when the gateway reports every executor reachable (False if unreachable)."""
        return await self._transport.dry_run(timeout)

    async def is_flow_ready(self, timeout: float | None = None) -> bool:
        """True when the gateway answers its health check (False if unreachable)."""
        return await self._transport.is_ready(timeout)

    async def close(self) -> None:
        """Close the channel / connection pool. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._transport.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
