"""Fakes shared by unit tests: an executor replica served in-process, through the wire form."""

from __future__ import annotations

from flowserve import Executor
from flowserve.errors import UnavailableError
from flowserve.proto import jina_pb2
from flowserve.wire.request import DataRequest
from flowserve.worker.runtime import ExecutorRuntime


class InProcessReplica:
    """A ReplicaClient that runs an executor in this process; requests and replies go
    through their serialized form, as over gRPC."""

    def __init__(self, executor: Executor, address: str = "fake:1", *,
                 name: str | None = None) -> None:
        if name is not None:
            executor.runtime_args.name = name
        self.address = address
        self.runtime = ExecutorRuntime(executor)
        self.calls = 0

    async def process(self, request, *, endpoint, timeout):
        self.calls += 1
        wire = DataRequest(jina_pb2.DataRequestProto.FromString(request.SerializeToString()))
        reply = await self.runtime.handle(wire, endpoint)
        return jina_pb2.DataRequestProto.FromString(reply.to_bytes())

    async def stream(self, request, *, endpoint, timeout):
        self.calls += 1
        wire = jina_pb2.SingleDocumentRequestProto.FromString(request.SerializeToString())
        replies = self.runtime.stream(wire, endpoint)
        try:
            async for reply in replies:
                yield jina_pb2.SingleDocumentRequestProto.FromString(reply.SerializeToString())
        finally:
            await replies.aclose()

    async def endpoint_kinds(self, timeout):
        streaming = set(self.runtime.streaming_endpoints())
        return {e: e in streaming for e in self.runtime.endpoints}

    async def is_ready(self, timeout):
        return True

    async def endpoints(self, timeout):
        return self.runtime.endpoints

    async def close(self):
        self.runtime.close()


class DownReplica:
    """A ReplicaClient whose executor cannot be reached."""

    def __init__(self, address: str = "down:1") -> None:
        self.address = address

    async def process(self, request, *, endpoint, timeout):
        raise UnavailableError(f"executor at {self.address} failed: UNAVAILABLE")

    async def stream(self, request, *, endpoint, timeout):
        raise UnavailableError(f"executor at {self.address} failed: UNAVAILABLE")
        yield  # an async generator, as a replica's stream is

    async def endpoint_kinds(self, timeout):
        raise UnavailableError(self.address)

    async def is_ready(self, timeout):
        return False

    async def endpoints(self, timeout):
        raise UnavailableError(self.address)

    async def close(self):
        pass
