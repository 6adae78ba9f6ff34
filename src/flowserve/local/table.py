"""The address table printed when a local Flow is ready."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..config.spec import FlowSpec
from .local_flow import FlowAddresses

__all__ = ["print_addresses"]


def print_addresses(spec: FlowSpec, addresses: FlowAddresses,
                    console: Console | None = None) -> None:
    """Print where the gateway and each executor replica listen."""
    console = console or Console()
    table = Table(title="🔗 Flow is ready to serve", title_justify="left")
    table.add_column("Role")
    table.add_column("Name")
    table.add_column("Address")
    for protocol in addresses.gateway_ports:
        table.add_row("gateway", f"{spec.with_.name} ({protocol})", addresses.gateway_url(protocol))
    for name, replicas in addresses.executors.items():
        for i, address in enumerate(replicas):
            label = name if len(replicas) == 1 else f"{name} [{i}]"
            table.add_row("executor", label, address)
    if addresses.dashboard_url is not None:
        table.add_row("dashboard", spec.with_.name, addresses.dashboard_url)
        table.add_row("metrics", spec.with_.name, addresses.metrics_url)
    for name, endpoints in addresses.executor_monitoring.items():
        for i, address in enumerate(endpoints):
            label = name if len(endpoints) == 1 else f"{name} [{i}]"
            table.add_row("metrics", label, f"http://{address}/metrics")
    console.print(table)
