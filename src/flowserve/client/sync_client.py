"""`Client`: the blocking client, an `AsyncClient` driven on a private event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Self, TypeVar

from ..documents.array import DocumentArray
from ..documents.document import Document
from ..wire.request import DataRequest
from ._address import Address
from ._batching import InputType
from ._callbacks import Callback
from .async_client import AsyncClient, Metadata

if TYPE_CHECKING:
    import httpx

__all__ = ["Client"]

T = TypeVar("T")


class Client:
    """A blocking client for a gateway; same constructor and semantics as `AsyncClient`.

    Posts run on an event loop private to this Client, created on first use and kept, so the
    gRPC channel / HTTP connection pool is reused across posts. Called from a thread whose
    event loop is running (e.g. a notebook), the private loop is driven on a helper thread.
    Posts from several threads are serialized. Use ``with Client(...)`` or `close`.
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
    ) -> None:
        self._client = AsyncClient(
            host, port, protocol, http_transport=http_transport, grpc_options=grpc_options,
            client_id=client_id, ca_file=ca_file, token=token, _blocking=True,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._helper: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def address(self) -> Address:
        return self._client.address

    @property
    def client_id(self) -> str:
        return self._client.client_id

    @property
    def host(self) -> str:
        return self._client.host

    @property
    def port(self) -> int:
        return self._client.port

    @property
    def protocol(self) -> str:
        return self._client.protocol

    def __repr__(self) -> str:
        return f"<Client {self.address}>"

    # -- running coroutines on the private loop ---------------------------------------------

    def _drive(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.new_event_loop()
        task = loop.create_task(make())
        try:
            return loop.run_until_complete(task)
        except BaseException:
            # e.g. KeyboardInterrupt: do not leave the post half-running on the loop.
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(task)
            raise

    def _run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        # asyncio's no-raise variant of get_running_loop (a raise costs ~1 us per post)
        running = asyncio._get_running_loop()
        if running is not None and running is self._loop:
            raise RuntimeError(
                "Client called from inside one of its own callbacks; use AsyncClient there"
            )
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed")
            if running is None:
                return self._drive(make)
            # This thread's loop is busy (notebook, async app): drive ours on a helper thread.
            if self._helper is None:
                self._helper = ThreadPoolExecutor(1, thread_name_prefix="flowserve-client")
            return self._helper.submit(self._drive, make).result()

    # -- API ----------------------------------------------------------------------------------

    def post(
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
        """Send `inputs` to endpoint `on` and wait; see `AsyncClient.post`."""
        return self._run(
            lambda: self._client.post(
                on,
                inputs,
                request_size=request_size,
                on_done=on_done,
                on_error=on_error,
                on_always=on_always,
                parameters=parameters,
                target_executor=target_executor,
                prefetch=prefetch,
                continue_on_error=continue_on_error,
                results_in_order=results_in_order,
                show_progress=show_progress,
                timeout=timeout,
                return_responses=return_responses,
                metadata=metadata,
                retries=retries,
                retry_backoff=retry_backoff,
                retry_max_backoff=retry_max_backoff,
            )
        )

    def stream_doc(
        self,
        on: str,
        inputs: Document,
        parameters: dict[str, Any] | None = None,
        *,
        target_executor: str | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> Iterator[Document]:
        """Send one Document to the streaming endpoint `on` and iterate over the Documents
        its handler yields, each as it comes; see `AsyncClient.stream_doc`. Leaving the loop
        early (``break``, an exception) cancels the stream."""
        docs = self._client.stream_doc(on, inputs, parameters, target_executor=target_executor,
                                       timeout=timeout, metadata=metadata)
        end = object()

        async def step() -> Any:
            return await anext(docs, end)

        try:
            while True:
                doc = self._run(step)
                if doc is end:
                    return
                yield doc
        finally:
            if not self._closed:
                self._run(docs.aclose)

    def dry_run(self, timeout: float | None = None) -> bool:
        """True when the gateway reports every executor reachable (False if unreachable)."""
        return self._run(lambda: self._client.dry_run(timeout))

    def is_flow_ready(self, timeout: float | None = None) -> bool:
        """True when the gateway answers its health check (False if unreachable)."""
        return self._run(lambda: self._client.is_flow_ready(timeout))

    def close(self) -> None:
        """Close the connection and the private loop. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, helper = self._loop, self._helper
            self._loop = self._helper = None
            if loop is not None and not loop.is_closed():

                def shutdown() -> None:
                    try:
                        loop.run_until_complete(self._client.close())
                        loop.run_until_complete(loop.shutdown_asyncgens())
                    finally:
                        loop.close()

                try:
                    asyncio.get_running_loop()
                except RuntimeError:
                    shutdown()
                else:  # this thread's loop is busy: the private one must run elsewhere
                    helper = helper or ThreadPoolExecutor(1, thread_name_prefix="flowserve-client")
                    helper.submit(shutdown).result()
            if helper is not None:
                helper.shutdown(wait=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Best effort for scripts that never close: do not leak the loop's selector and fds.
        if getattr(self, "_closed", True) or getattr(self, "_loop", None) is None:
            return
        with contextlib.suppress(Exception):
            self.close()
