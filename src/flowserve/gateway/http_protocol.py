"""The gateway's HTTP connection limits, as a uvicorn protocol class (docs/security.md#limits):
a cap on open connections (more are closed at once, before anything is read) and a timeout for
a connection's first request headers. Its own module, so that a gateway without HTTP never
imports uvicorn."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

from ..config.ratelog import RateLimitedLog
from .limits import Limits

__all__ = ["http_protocol"]


class _LimitedH11(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and a first-request timeout."""

    limits: Limits = Limits()
    refused: RateLimitedLog | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._first_request: asyncio.TimerHandle | None = None
        if len(self.connections) > self.limits.max_connections:
            if self.refused is not None:
                self.refused.log("connections", "gateway (http): closing a connection over "
                                 "max_connections (%d)", self.limits.max_connections)
            transport.close()
            return
        self._first_request = self.loop.call_later(self.limits.header_timeout,
                                                   self._no_request_in_time)

    def _no_request_in_time(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._first_request is not None:
            self._first_request.cancel()
        super().connection_lost(exc)


def http_protocol(limits: Limits, refused: RateLimitedLog | None = None) -> type[H11Protocol]:
    """The uvicorn ``http`` protocol class enforcing `limits`."""
    return type("LimitedH11Protocol", (_LimitedH11,), {"limits": limits, "refused": refused})
