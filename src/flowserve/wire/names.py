"""Names both ends of a connection spell the same way: gRPC metadata keys, HTTP headers and
gRPC method paths. Clients, the gateway, the worker, tracing and export read them from here."""

from __future__ import annotations

__all__ = [
    "CALL_METHOD",
    "CLIENT_ID_HEADER",
    "CLIENT_ID_METADATA",
    "DISCOVERY_METHOD",
    "ENDPOINT_METADATA",
    "ERROR_TRAILER",
    "FORWARDED_FOR",
    "MESH_CLIENT_ID",
    "MESH_REMOTE_IP",
    "PREFETCH_METADATA",
    "PROCESS_METHOD",
    "STREAM_DOC_METHOD",
    "RESULTS_IN_ORDER_METADATA",
    "RETRIED_HEADER",
    "RETRY_AFTER",
    "SESSION_METADATA",
    "TIMEOUT_HEADER",
]

# -- gRPC metadata, client -> gateway ---------------------------------------------------------
PREFETCH_METADATA = "__prefetch__"
"""Jina's key: at most this many requests of a `Call` stream in flight (0 = unlimited)."""
RESULTS_IN_ORDER_METADATA = "__results_in_order__"
"""Jina's key: "true" asks for a `Call` stream's responses in request order."""
SESSION_METADATA = "flowserve-session"
"""Value "1" marks a client's long-lived `Call` stream for single-request posts: the gateway
may end it whenever it is idle while the gateway drains (the client then opens a new one), so
it never holds a stop for the grace period."""
CLIENT_ID_METADATA = "flowserve-client-id"
"""Names the client for fair queuing (the Client sends one per instance; see
`gateway.identity` for what takes precedence)."""

# -- set by proxies in front of the gateway (gRPC metadata and HTTP headers alike) ------------
MESH_CLIENT_ID = "l5d-client-id"
"""Linkerd's inbound proxy: the calling workload's mTLS identity (client copies stripped)."""
MESH_REMOTE_IP = "l5d-remote-ip"
"""Linkerd's inbound proxy: the source address of the connection it accepted."""
FORWARDED_FOR = "x-forwarded-for"
"""Client address chain written by HTTP proxies; believed from `trusted_proxies` only."""

# -- gRPC metadata, gateway -> client ---------------------------------------------------------
ERROR_TRAILER = "flowserve-error"
"""Trailing metadata naming the flowserve error when the gateway fails a unary request."""
RETRY_AFTER = "retry-after"
"""Seconds after which an overloaded server may be asked again: a gRPC trailer, an HTTP header."""

# -- HTTP headers, gateway -> client ----------------------------------------------------------
RETRIED_HEADER = "X-Flowserve-Retried"
"""On a response some executor answered only after a retry: ``executor=attempts``, comma
separated (the routes say the same, `wire.retried`)."""

# -- gRPC metadata, gateway -> executor -------------------------------------------------------
ENDPOINT_METADATA = "endpoint"
"""The executor endpoint a `process_single_data` call is for."""

# -- HTTP headers, client -> gateway ----------------------------------------------------------
CLIENT_ID_HEADER = "X-Flowserve-Client-Id"
"""Names the client for fair queuing (default: the remote IP address)."""
TIMEOUT_HEADER = "X-Flowserve-Timeout"
"""The request's deadline in seconds (the body's `timeout` is in ms)."""

# -- gRPC methods -----------------------------------------------------------------------------
CALL_METHOD = "/jina.JinaRPC/Call"
"""The streaming call clients make to the gateway."""
PROCESS_METHOD = "/jina.JinaSingleDataRequestRPC/process_single_data"
"""The unary call the gateway makes to executors (and clients may make to the gateway)."""
STREAM_DOC_METHOD = "/jina.JinaSingleDocumentRequestRPC/stream_doc"
"""The server-streaming call of a streaming endpoint (clients -> gateway -> executor)."""
DISCOVERY_METHOD = "/jina.JinaDiscoverEndpointsRPC/endpoint_discovery"
