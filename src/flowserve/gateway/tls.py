"""TLS for the gateway's servers (and the executors' when there is no mesh): certificate and
key files turned into gRPC server credentials and uvicorn settings, with errors that name the
file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    import grpc

__all__ = ["TlsFiles", "read_pem"]


def read_pem(path: str, what: str) -> bytes:
    """The bytes of a PEM file; a :class:`ConfigError` naming `what` and the path otherwise."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {path!r}: cannot read it: {exc.strerror or exc}") from None
    if b"-----BEGIN" not in data:
        raise ConfigError(f"{what} {path!r}: not a PEM file")
    return data


class TlsFiles:
    """A certificate chain and its key, read once when the server starts."""

    def __init__(self, certfile: str, keyfile: str) -> None:
        self.certfile = certfile
        self.keyfile = keyfile
        self.cert = read_pem(certfile, "ssl_certfile")
        self.key = read_pem(keyfile, "ssl_keyfile")

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Server credentials for ``add_secure_port``."""
        import grpc

        return grpc.ssl_server_credentials([(self.key, self.cert)])

    def uvicorn_options(self) -> dict[str, Any]:
        """``uvicorn.Config`` keyword arguments serving HTTPS."""
        return {"ssl_certfile": self.certfile, "ssl_keyfile": self.keyfile}
