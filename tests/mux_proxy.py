"""A small multiplexing gRPC proxy, as a service mesh's sidecar or an L7 ingress is: every
downstream call, from any connection, is forwarded over ONE upstream channel, with its
metadata. With `stamp_identity`, it also sets ``l5d-client-id`` to an identity per downstream
connection (and strips the caller's own), as Linkerd's inbound proxy does for meshed callers.

Runs on its own event loop thread; `MuxProxy(upstream).start()` returns the port it serves."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

import grpc

_STREAMING = {"/jina.JinaRPC/Call"}  # every other Jina method is unary-unary


class _Forward(grpc.GenericRpcHandler):
    def __init__(self, channel: grpc.aio.Channel, stamp_identity: bool) -> None:
        self._channel = channel
        self._stamp = stamp_identity

    def _metadata(self, context: grpc.aio.ServicerContext) -> tuple[tuple[str, str], ...]:
        pairs = [(k, v) for k, v in (context.invocation_metadata() or ())
                 if k != "l5d-client-id" and not k.startswith(":")]
        if self._stamp:
            pairs.append(("l5d-client-id", f"workload-{context.peer()}"))
        return tuple(pairs)

    def service(self, details: grpc.HandlerCallDetails):  # type: ignore[override]
        method = details.method
        if method in _STREAMING:
            upstream = self._channel.stream_stream(method)

            async def stream(requests: AsyncIterator[bytes], context) -> AsyncIterator[bytes]:
                call = upstream(requests, metadata=self._metadata(context))
                async for reply in call:
                    yield reply

            return grpc.stream_stream_rpc_method_handler(stream)
        unary = self._channel.unary_unary(method)

        async def single(request: bytes, context) -> bytes:
            try:
                return await unary(request, metadata=self._metadata(context),
                                   timeout=context.time_remaining())
            except grpc.aio.AioRpcError as exc:
                context.set_trailing_metadata(exc.trailing_metadata() or ())
                await context.abort(exc.code(), exc.details() or "")
                raise

        return grpc.unary_unary_rpc_method_handler(single)


class MuxProxy:
    def __init__(self, upstream: str, *, stamp_identity: bool = False) -> None:
        self.upstream = upstream
        self.stamp_identity = stamp_identity
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: grpc.aio.Server | None = None
        self._channel: grpc.aio.Channel | None = None

    def start(self) -> int:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.port

    async def _start(self) -> None:
        options = [("grpc.max_send_message_length", -1),
                   ("grpc.max_receive_message_length", -1)]
        self._channel = grpc.aio.insecure_channel(self.upstream, options=options)
        self._server = grpc.aio.server(options=options)
        self._server.add_generic_rpc_handlers([_Forward(self._channel, self.stamp_identity)])
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()

    async def _stop(self) -> None:
        if self._server is not None:
            await self._server.stop(0)
        if self._channel is not None:
            await self._channel.close()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> MuxProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
