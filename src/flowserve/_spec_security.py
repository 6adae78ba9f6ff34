"""Security fields of the Flow's ``with:`` block (docs/security.md): TLS for the gateway's
servers, bearer tokens. Kept apart from :mod:`flowserve._spec_options`, whose ``GatewayOptions`` inherits
them; the gateway's settings object is :class:`flowserve.gateway.security.SecurityConfig`.
Secrets never live here: these fields name files (or environment variables) holding them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["GatewaySecurityOptions"]


class GatewaySecurityOptions(BaseModel):
    """TLS of the gateway (Jina's ``ssl_certfile`` / ``ssl_keyfile``) and its bearer tokens."""

    model_config = ConfigDict(extra="forbid")

    ssl_certfile: str | None = None
    """PEM certificate chain the gateway serves gRPC and HTTP with (TLS on when set)."""
    ssl_keyfile: str | None = None
    """PEM private key of `ssl_certfile`."""
    tokens_file: str | None = None
    """A file of ``name:token`` lines: clients must send one as a bearer token."""
    tokens_env: str | None = None
    """The name of an environment variable holding ``name:token`` entries (same effect)."""

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySecurityOptions:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise PydanticCustomError(
                "tls_pair", "ssl_certfile and ssl_keyfile go together: give both or neither")
        return self
