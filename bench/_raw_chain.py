"""The raw grpc.aio baseline for bench/overhead.py: two tiny servers, one per process.

    python bench/_raw_chain.py echo
    python bench/_raw_chain.py forward --to 127.0.0.1:PORT

Both listen on 127.0.0.1 (a free port) and print one JSON line ``{"port": N}`` on stdout once
they serve. They exchange the same ``jina.DataRequestProto`` messages as a flowserve Flow, with
the same hops, and nothing else:

- ``echo`` (stands in for the executor): ``process_single_data`` returns the request it got.
- ``forward`` (stands in for the gateway): ``process_single_data`` (unary) and ``Call`` (bidi
  stream) forward each request to the echo server's unary ``process_single_data`` (with the
  ``endpoint`` metadata the gateway sends) and return its reply. ``Call`` runs each request as
  its own task, at most ``__prefetch__`` (metadata, default 1000) in flight, and answers in
  completion order: the gateway's semantics without routing, routes or merging.

Both servers use the same channel options as flowserve (unlimited message size) and plain
asyncio, as flowserve's processes do. They stop on SIGTERM/SIGINT and when their parent dies.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import grpc

from flowserve.proto import jina_pb2, jina_pb2_grpc

OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
HOST = "127.0.0.1"


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the benchmark process dies, so no server outlives it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() == 1:  # the parent already died before prctl
        sys.exit(0)


class Echo(jina_pb2_grpc.JinaSingleDataRequestRPCServicer):
    async def process_single_data(
        self, request: jina_pb2.DataRequestProto, context: Any
    ) -> jina_pb2.DataRequestProto:
        return request


class Forward(jina_pb2_grpc.JinaSingleDataRequestRPCServicer, jina_pb2_grpc.JinaRPCServicer):
    def __init__(self, target: str) -> None:
        self.target = target
        self.stub: jina_pb2_grpc.JinaSingleDataRequestRPCStub | None = None

    def _stub(self) -> jina_pb2_grpc.JinaSingleDataRequestRPCStub:
        if self.stub is None:  # created inside the running loop
            channel = grpc.aio.insecure_channel(self.target, options=OPTIONS)
            self.stub = jina_pb2_grpc.JinaSingleDataRequestRPCStub(channel)
        return self.stub

    async def _forward(self, request: jina_pb2.DataRequestProto) -> jina_pb2.DataRequestProto:
        return await self._stub().process_single_data(request, metadata=(("endpoint", "/"),))

    async def process_single_data(
        self, request: jina_pb2.DataRequestProto, context: Any
    ) -> jina_pb2.DataRequestProto:
        return await self._forward(request)

    async def Call(
        self, request_iterator: AsyncIterator[jina_pb2.DataRequestProto], context: Any
    ) -> AsyncIterator[jina_pb2.DataRequestProto]:
        metadata = dict(context.invocation_metadata() or ())
        prefetch = int(metadata.get("__prefetch__", 1000))
        slots = asyncio.Semaphore(prefetch) if prefetch > 0 else None
        done: asyncio.Queue[Any] = asyncio.Queue()
        tasks: set[asyncio.Task[Any]] = set()

        async def read() -> None:
            count = 0
            async for request in request_iterator:
                if slots is not None:
                    await slots.acquire()
                task = asyncio.create_task(self._forward(request))
                tasks.add(task)
                task.add_done_callback(done.put_nowait)
                count += 1
            done.put_nowait(count)

        reader = asyncio.create_task(read())
        sent, expected = 0, None
        try:
            while expected is None or sent < expected:
                item = await done.get()
                if isinstance(item, int):
                    expected = item
                    continue
                tasks.discard(item)
                yield item.result()
                sent += 1
                if slots is not None:
                    slots.release()
            await reader
        finally:
            reader.cancel()
            for task in tasks:
                task.cancel()


async def serve(role: str, target: str | None) -> None:
    server = grpc.aio.server(options=OPTIONS)
    if role == "echo":
        jina_pb2_grpc.add_JinaSingleDataRequestRPCServicer_to_server(Echo(), server)
    else:
        assert target is not None
        forward = Forward(target)
        jina_pb2_grpc.add_JinaSingleDataRequestRPCServicer_to_server(forward, server)
        jina_pb2_grpc.add_JinaRPCServicer_to_server(forward, server)
    port = server.add_insecure_port(f"{HOST}:0")
    if not port:
        raise SystemExit(f"{role}: cannot listen on {HOST}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["echo", "forward"])
    parser.add_argument("--to", help="host:port of the echo server (forward only)")
    args = parser.parse_args()
    if args.role == "forward" and not args.to:
        parser.error("forward needs --to host:port")
    _die_with_parent()
    asyncio.run(serve(args.role, args.to))


if __name__ == "__main__":
    main()
