"""A long-lived ``Call`` stream for posts that make one request.

Setting up a gRPC call costs both ends far more than one more message on a stream that is
already open (docs/benchmarks.md), and a client that posts documents one at a time would pay
it on every post. A `Session` keeps one stream open on the client's channel and carries one
single-request post at a time over it; the gateway answers in-band, as on any stream.

The stream is marked with `SESSION_METADATA`, which lets a gateway that is stopping end it as
soon as it is idle. A request written to a stream that had already ended was never taken, so
it is sent again on a new stream, once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import cast

import grpc

from ..errors import RequestError, UnavailableError
from ..proto import jina_pb2
from ..wire import names
from ..wire.request import DataRequest
from ._address import Address
from ._grpc_errors import error_from_rpc

__all__ = ["SESSION_METADATA", "Session"]

SESSION_METADATA = (names.SESSION_METADATA, "1")
"""The metadata pair marking a session stream."""


class _NotTaken(Exception):
    """The stream had ended before it took the request: it may be sent again."""

    def __init__(self, error: RequestError) -> None:
        super().__init__(str(error))
        self.error = error


class Session:
    """One open ``Call`` stream (made by `open_call`) for single-request posts, one at a time.

    `busy` is True while a post is on it; a caller with another post meanwhile sends it some
    other way instead of waiting.
    """

    def __init__(self, open_call: Callable[[], grpc.aio.StreamStreamCall],
                 address: Address) -> None:
        self._open = open_call
        self._address = address
        self._call: grpc.aio.StreamStreamCall | None = None
        self.busy = False

    async def post(self, request: DataRequest) -> DataRequest:
        """The gateway's answer to `request`. Raises the mapped `RequestError` when the
        gateway cannot be reached or the stream failed with the request on it."""
        self.busy = True
        try:
            while True:
                fresh = self._call is None
                if self._call is None:
                    self._call = self._open()
                try:
                    return await self._exchange(self._call, request)
                except _NotTaken as not_taken:
                    self._drop()
                    if fresh:
                        raise not_taken.error from None
                except BaseException:
                    self._drop()  # the request's fate on this stream is unknown: never reuse it
                    raise
        finally:
            self.busy = False

    async def _exchange(self, call: grpc.aio.StreamStreamCall,
                        request: DataRequest) -> DataRequest:
        try:
            await call.write(request.proto)
        except grpc.aio.AioRpcError as exc:  # the stream had failed: nothing was sent
            raise _NotTaken(error_from_rpc(exc, self._address)) from exc
        except (grpc.RpcError, asyncio.InvalidStateError):  # it had ended
            raise _NotTaken(UnavailableError(
                f"{self._address} ended the stream before the request was sent")) from None
        try:
            message = await call.read()
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc, self._address) from exc
        if message is grpc.aio.EOF:  # ended while idle (a draining gateway): not taken
            raise _NotTaken(UnavailableError(
                f"{self._address} ended the stream before answering"))
        reply = DataRequest(cast(jina_pb2.DataRequestProto, message))
        if reply.request_id != request.request_id:
            raise RequestError(f"{self._address} answered request {reply.request_id!r} on a "
                               f"session stream that carried {request.request_id!r}")
        return reply

    def _drop(self) -> None:
        call, self._call = self._call, None
        if call is not None:
            call.cancel()

    def close(self) -> None:
        """End the stream (the client is closing)."""
        with contextlib.suppress(Exception):
            self._drop()
