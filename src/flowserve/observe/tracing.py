"""OpenTelemetry tracing of a Flow: one trace per request, across the gateway and executors.

Spans, all in the request's trace:

- the request (server): one per client request, in the gateway process, named and described
  by the semantic conventions of the transport it came by (``jina.JinaRPC/Call``,
  ``POST /post``; from the adapter's `flowserve.wire.origin`), ``gateway <endpoint>`` when the
  caller gave no origin;
- ``queue <executor>``: the time the request waited in that executor's fair queue;
- ``jina.JinaSingleDataRequestRPC/process_single_data`` (client): one per call to a replica,
  with its W3C ``traceparent`` sent in the call's gRPC metadata;
- ``jina.JinaSingleDataRequestRPC/process_single_data`` (server): the handler, in the executor
  process, a child of the gateway's call span.

Attributes follow OpenTelemetry's semantic conventions 1.44.0 (docs/observability.md lists them).

Spans are exported with OTLP/gRPC to ``traces_exporter_host:traces_exporter_port`` (default
``localhost:4317``) in batches from a background thread: with no collector running the batches
are dropped after a short timeout, one warning is logged, and requests never wait for it. With
`traces_file` set, finished spans are instead appended to that file as JSON lines (used by the
tests and for debugging without a collector; ``--traces-file`` or the ``FLOWSERVE_TRACES_FILE``
environment variable).

OpenTelemetry is optional (``pip install 'flowserve[tracing]'``) and imported only here, when
tracing is switched on; everything OpenTelemetry-specific lives in :mod:`._otel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    import grpc

    from ..config.observability import ObservabilityOptions
    from ..gateway.observer import Observer
    from ..worker.grpc_service import StreamTraceHook, TraceHook

__all__ = ["DEFAULT_OTLP_PORT", "Tracing", "TracingSettings", "require_otel", "start_tracing",
           "tracing_settings"]

DEFAULT_OTLP_HOST = "localhost"
DEFAULT_OTLP_PORT = 4317
EXTRA_HINT = "pip install 'flowserve[tracing]'"

def require_otel() -> None:
    """Raise a `ConfigError` naming the extra when OpenTelemetry is not installed."""
    try:
        import opentelemetry.sdk.trace
        import opentelemetry.trace  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"tracing is switched on but OpenTelemetry is not installed ({exc}); "
            f"install the extra: {EXTRA_HINT}") from None


@dataclass(frozen=True)
class TracingSettings:
    """Where a process sends its spans."""

    service_name: str
    exporter_host: str | None = None
    exporter_port: int | None = None
    traces_file: str | None = None
    instance: str | None = None
    """Told apart in the resource as ``service.instance.id`` (e.g. the replica)."""

    @property
    def endpoint(self) -> str:
        return (f"{self.exporter_host or DEFAULT_OTLP_HOST}:"
                f"{self.exporter_port or DEFAULT_OTLP_PORT}")


class Tracing:
    """A process's tracer and the hooks that put spans around its work."""

    def __init__(self, provider: Any) -> None:
        from ._otel import SEMCONV_SCHEMA

        self.provider = provider
        self.tracer = provider.get_tracer("flowserve", schema_url=SEMCONV_SCHEMA)

    # -- gateway -------------------------------------------------------------------------
    def gateway_observer(self) -> Observer:
        """The gateway core's Observer: a span per request and per wait in a queue."""
        from ._otel import GatewaySpans

        return GatewaySpans(self.tracer)

    def client_interceptors(self, *, executor: str, address: str,
                            ) -> list[grpc.aio.ClientInterceptor]:
        """gRPC interceptors for the gateway's channel to one replica: span + traceparent, for
        posts and for streams."""
        from ._otel import CallSpanInterceptor, StreamSpanInterceptor

        return [CallSpanInterceptor(self.tracer, executor=executor, address=address),
                StreamSpanInterceptor(self.tracer, executor=executor, address=address)]

    # -- executor ------------------------------------------------------------------------
    def worker_hook(self, executor: str) -> TraceHook:
        """The hook `WorkerServicer` calls around each request: continues the caller's trace."""
        from ._otel import worker_hook

        return worker_hook(self.tracer, executor)

    def worker_stream_hook(self, executor: str) -> StreamTraceHook:
        """The span `WorkerServicer` opens around each stream: continues the caller's trace."""
        from ._otel import worker_stream_span

        return worker_stream_span(self.tracer, executor)

    def shutdown(self) -> None:
        """Export what is buffered and stop: one last batch, bounded by the exporter's timeout
        (a few seconds), so a missing collector cannot hold up the process's exit."""
        self.provider.shutdown()


def tracing_settings(options: ObservabilityOptions, service_name: str,
                     instance: str | None = None) -> TracingSettings | None:
    """The tracing settings of a process with `options`, or None when tracing is off."""
    if not options.tracing:
        return None
    return TracingSettings(service_name=service_name, exporter_host=options.traces_exporter_host,
                           exporter_port=options.traces_exporter_port,
                           traces_file=options.traces_file, instance=instance)


def start_tracing(settings: TracingSettings, *, exporter: Any = None) -> Tracing:
    """A `Tracing` exporting with OTLP, to `settings.traces_file`, or to `exporter` (tests:
    the SDK's `InMemorySpanExporter`). Raises `ConfigError` without OpenTelemetry."""
    require_otel()
    from ._otel import make_provider

    return Tracing(make_provider(settings, exporter=exporter))
