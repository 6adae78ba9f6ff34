"""Monitoring and tracing switches of one process, and the flags that carry them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import ExecutorSpec, FlowSpec

__all__ = ["ObservabilityOptions"]


@dataclass(frozen=True)
class ObservabilityOptions:
    """What a gateway or executor process reports (docs/observability.md)."""

    monitoring: bool = False
    """Serve /metrics (and, on a gateway, the dashboard) on `port_monitoring`."""
    port_monitoring: int | None = None
    """None or 0: a free port (reported in the ready line)."""
    monitoring_host: str = "127.0.0.1"
    """Where /metrics (and the dashboard) listen: this machine only unless asked (a container
    must say ``0.0.0.0`` to be scraped; the Kubernetes export does)."""
    tracing: bool = False
    traces_exporter_host: str | None = None
    traces_exporter_port: int | None = None
    traces_file: str | None = None
    """Write finished spans as JSON lines here instead of exporting them (tests, debugging)."""

    @classmethod
    def for_component(cls, spec: FlowSpec, ex: ExecutorSpec | None = None, *,
                      port_monitoring: int | None = None) -> ObservabilityOptions:
        """The Flow's settings for its gateway (`ex` None) or for executor `ex` (whose own
        ``monitoring`` overrides the Flow's when set)."""
        opts = spec.with_
        monitoring = opts.monitoring if ex is None or ex.monitoring is None else ex.monitoring
        return cls(monitoring=monitoring, port_monitoring=port_monitoring,
                   monitoring_host=opts.monitoring_host, tracing=opts.tracing,
                   traces_exporter_host=opts.traces_exporter_host,
                   traces_exporter_port=opts.traces_exporter_port)

    def to_argv(self) -> list[str]:
        """The `flowserve gateway|executor` flags for these settings (none when both off)."""
        argv: list[str] = []
        if self.monitoring:
            argv += ["--monitoring"]
            if self.port_monitoring is not None:
                argv += ["--port-monitoring", str(self.port_monitoring)]
            if self.monitoring_host != ObservabilityOptions.monitoring_host:
                argv += ["--monitoring-host", self.monitoring_host]
        if self.tracing:
            argv += ["--tracing"]
            if self.traces_exporter_host:
                argv += ["--traces-exporter-host", self.traces_exporter_host]
            if self.traces_exporter_port:
                argv += ["--traces-exporter-port", str(self.traces_exporter_port)]
            if self.traces_file:
                argv += ["--traces-file", self.traces_file]
        return argv
