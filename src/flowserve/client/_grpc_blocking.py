"""The blocking `Client`'s path for a post that makes one request: one unary
``process_single_data`` call on a synchronous gRPC channel, with no event loop to drive.

A sequential caller (one document, wait, the next) pays for each post; grpc's synchronous
stub costs less per call than driving a grpc.aio call on an event loop. Errors mean what they
mean for `GrpcTransport.post_one` (`unary_failure` decides for both).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import grpc

from ..proto import jina_pb2_grpc
from ..request import DataRequest
from ._address import Address
from ._grpc import CHANNEL_OPTIONS, unary_failure

__all__ = ["BlockingUnary"]


class BlockingUnary:
    """A lazily opened synchronous channel to `address` for unary posts."""

    def __init__(self, address: Address, *, options: Sequence[tuple[str, object]] = ()) -> None:
        self.address = address
        self._options = [*CHANNEL_OPTIONS, *options]
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._call: grpc.UnaryUnaryMultiCallable | None = None
        self.supported = True

    def _callable(self) -> grpc.UnaryUnaryMultiCallable:
        with self._lock:
            if self._call is None:
                target = self.address.target
                if self.address.tls:
                    self._channel = grpc.secure_channel(
                        target, grpc.ssl_channel_credentials(), options=self._options)
                else:
                    self._channel = grpc.insecure_channel(target, options=self._options)
                self._call = jina_pb2_grpc.JinaSingleDataRequestRPCStub(
                    self._channel).process_single_data
            return self._call

    def post_one(self, request: DataRequest, metadata: Sequence[tuple[str, str]],
                 timeout: float | None) -> DataRequest | None:
        """The reply; None if the gateway has no unary method (use a stream from now on).
        Raises `RequestFailed` when this request alone failed, else the mapped error."""
        call = self._callable()
        try:
            reply = call(request.proto, metadata=tuple(metadata) or None, timeout=timeout)
        except grpc.RpcError as exc:
            failure = unary_failure(exc, self.address)
            if failure is None:
                self.supported = False
                return None
            raise failure from exc
        return DataRequest(reply)

    def close(self) -> None:
        with self._lock:
            channel, self._channel, self._call = self._channel, None, None
        if channel is not None:
            channel.close()
