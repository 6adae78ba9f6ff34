"""How the client trusts a TLS gateway (``grpcs://``, ``https://``): the system's roots as each
library finds them (gRPC: ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``; httpx: ``SSL_CERT_FILE``, else
certifi), or a private CA given as ``ca_file``."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

__all__ = ["grpc_credentials", "http_verify", "plaintext_hint"]

# What a TLS server does to a plaintext client: closes the connection without an answer.
_CLOSED_WITHOUT_ANSWER = ("Socket closed", "Connection reset", "ReadError",
                         "Server disconnected without sending a response")


def plaintext_hint(tls: bool, scheme: str, details: str) -> str:
    """A hint to add when a plaintext connection was closed unanswered, as a TLS gateway
    closes it; empty otherwise."""
    if tls or not any(marker in details for marker in _CLOSED_WITHOUT_ANSWER):
        return ""
    return f" (if the gateway serves TLS, connect with {scheme}s://)"


def _read(ca_file: str | Path) -> bytes:
    try:
        return Path(ca_file).read_bytes()
    except OSError as exc:
        raise ValueError(f"ca_file {str(ca_file)!r}: cannot read it: {exc.strerror or exc}"
                         ) from None


def grpc_credentials(ca_file: str | Path | None) -> grpc.ChannelCredentials:
    """Channel credentials trusting `ca_file` (PEM), else gRPC's default roots."""
    return grpc.ssl_channel_credentials(root_certificates=_read(ca_file) if ca_file else None)


def http_verify(ca_file: str | Path | None) -> ssl.SSLContext | bool:
    """httpx's ``verify``: a context trusting `ca_file`, else True (httpx's defaults)."""
    if ca_file is None:
        return True
    _read(ca_file)  # the same clear error as gRPC's for a missing file
    return ssl.create_default_context(cafile=str(ca_file))
