"""Security fields of the Flow's ``with:`` block (docs/security.md): TLS for the gateway's
servers, bearer tokens, resource limits (None: the gateway's default, see
:class:`flowserve.gateway.limits.Limits`), what clients may send and see, where metrics
listen. Kept apart from :mod:`flowserve._spec_options`, whose ``GatewayOptions`` inherits
them; the gateway's settings object is :class:`flowserve.gateway.security.SecurityConfig`.
Secrets never live here: these fields name files (or environment variables) holding them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["GatewaySecurityOptions"]


class GatewaySecurityOptions(BaseModel):
    """TLS of the gateway (Jina's ``ssl_certfile`` / ``ssl_keyfile``) and its bearer tokens."""

    model_config = ConfigDict(extra="forbid")

    ssl_certfile: str | None = None
    """PEM certificate chain the gateway serves gRPC and HTTP with (TLS on when set)."""
    ssl_keyfile: str | None = None
    """PEM private key of `ssl_certfile`."""
    executor_ssl_certfile: str | None = None
    """TLS between the gateway and executors without a mesh: the certificate every executor
    serves (its names must match the executors' addresses)."""
    executor_ssl_keyfile: str | None = None
    executor_ssl_cafile: str | None = None
    """The CA the gateway trusts for executors' certificates."""
    tokens_file: str | None = None
    """A file of ``name:token`` lines: clients must send one as a bearer token."""
    tokens_env: str | None = None
    """The name of an environment variable holding ``name:token`` entries (same effect)."""
    max_message_bytes: int | None = Field(default=None, ge=1024)
    """Largest gRPC message received or sent, by the gateway and the executors."""
    max_body_bytes: int | None = Field(default=None, ge=1024)
    """Largest HTTP request body."""
    max_connections: int | None = Field(default=None, ge=1)
    """Open HTTP connections at once."""
    max_concurrent_rpcs: int | None = Field(default=None, ge=1)
    """gRPC calls (streams) at once."""
    header_timeout: float | None = Field(default=None, gt=0)
    """Seconds a new connection may take to send its first request's headers."""
    keep_alive_timeout: float | None = Field(default=None, gt=0)
    """Seconds an idle HTTP keep-alive connection stays open."""
    error_detail: Literal["stack", "message"] | None = None
    """What clients see of an executor's exception: ``stack`` (its traceback too) or
    ``message`` (name and message). None: ``stack``, but ``message`` in the exports."""
    allow_target_executor: bool = True
    """Whether a request's ``target_executor`` may select the executors it visits (Jina's
    behaviour); false refuses such requests, so none can skip a guard or a filter."""
    monitoring_host: str = "127.0.0.1"
    """Where the gateway's and executors' /metrics and dashboard listen (this machine only)."""

    @model_validator(mode="after")
    def _tls_pair(self) -> GatewaySecurityOptions:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise PydanticCustomError(
                "tls_pair", "ssl_certfile and ssl_keyfile go together: give both or neither")
        executor = (self.executor_ssl_certfile, self.executor_ssl_keyfile,
                    self.executor_ssl_cafile)
        if any(f is None for f in executor) and any(f is not None for f in executor):
            raise PydanticCustomError(
                "tls_executor", "executor_ssl_certfile, executor_ssl_keyfile and "
                "executor_ssl_cafile go together: give all three or none")
        return self
