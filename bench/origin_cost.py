"""What describing a request's origin for tracing (wire/origin.py) costs each request, which
every gRPC and HTTP request pays (tracing on or off), against building a one-document request
in the same run.

    PYTHONPATH=src python bench/origin_cost.py
"""

from __future__ import annotations

import timeit

from flowserve import Document, DocumentArray
from flowserve.wire.names import PROCESS_METHOD
from flowserve.wire.origin import grpc_origin, http_origin
from flowserve.wire.request import DataRequest

SCOPE = {"type": "http", "method": "POST", "path": "/post", "scheme": "http",
         "server": ("127.0.0.1", 12345), "client": ("10.1.2.3", 40000),
         "headers": [(b"host", b"gateway.example:8080"), (b"user-agent", b"python-httpx/0.27"),
                     (b"content-type", b"application/json"), (b"accept", b"*/*"),
                     (b"content-length", b"40")]}


def per_call(f, number: int) -> float:
    return min(timeit.repeat(f, number=number, repeat=5)) / number


def main() -> None:
    http = per_call(lambda: http_origin(SCOPE, "/post"), 200_000)
    grpc = per_call(lambda: grpc_origin(PROCESS_METHOD, "ipv4:127.0.0.1:37192", (None, 50051)),
                    200_000)
    baseline = per_call(lambda: DataRequest.new(DocumentArray([Document(text="x")]),
                                                endpoint="/"), 20_000)
    print(f"http_origin {http * 1e6:.2f} us ({http / baseline:.3f}x), "
          f"grpc_origin {grpc * 1e6:.2f} us ({grpc / baseline:.3f}x) "
          f"of DataRequest.new(1 doc) {baseline * 1e6:.2f} us")


if __name__ == "__main__":
    main()
