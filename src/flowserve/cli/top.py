"""`flowserve top HOST:PORT`: the dashboard's numbers as a live table in a terminal.

HOST:PORT is the gateway's monitoring port (the ``dashboard`` row of the address table); the
command polls ``/dashboard/api/snapshot`` every `--interval` seconds. ``--once`` prints one
table and exits (1 when the gateway cannot be reached), for scripts.

`register(sub)` adds the command to the `flowserve` sub-parsers (cli/main.py); it sets `func`.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported by the command, not by every `flowserve` process
    from rich.console import Console, RenderableType

__all__ = ["register", "render", "run", "snapshot_url", "unreachable_message"]


def snapshot_url(address: str) -> str:
    """The snapshot API of a monitoring address: ``host:port`` or an ``http(s)://`` URL."""
    base = address if "://" in address else f"http://{address}"
    base = base.rstrip("/")
    for suffix in ("/dashboard/api/snapshot", "/dashboard", "/metrics"):
        base = base.removesuffix(suffix)
    return f"{base}/dashboard/api/snapshot"


_NOT_MONITORING = (
    "{address} does not serve the dashboard: is it a gateway's gRPC or HTTP port? `flowserve "
    "top` reads the gateway's monitoring port (the 'dashboard' row of the Flow's address table; "
    "`port_monitoring` in the Flow YAML, with `monitoring: true`)")


def unreachable_message(address: str, url: str, exc: Exception) -> str:
    """What to tell the user when `url` could not be read: a gRPC port answers HTTP/1.1 with
    garbage, an HTTP gateway with 404; both mean the wrong port was given."""
    import httpx

    wrong_port = isinstance(exc, httpx.RemoteProtocolError) or (
        isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code == 404)
    if wrong_port:
        return _NOT_MONITORING.format(address=address)
    return f"cannot read {url}: {exc}"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _rate(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.1f}/s"


def _clients(rows: list[dict[str, Any]], limit: int = 3) -> str:
    return ", ".join(f"{r['client']} ({r['queued']})" for r in rows[:limit] if r["queued"]) or "–"


def render(snap: dict[str, Any]) -> RenderableType:
    """One screen: a row per node (and the gateway), then the hot spot, if any."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"flowserve top · {snap.get('name', 'gateway')}", title_justify="left",
                  expand=False)
    for column, justify in (("node", "left"), ("replicas", "right"), ("rate", "right"),
                            ("success", "right"), ("p50", "right"), ("p95", "right"),
                            ("p99", "right"), ("in flight", "right"), ("queue", "right"),
                            ("top queued clients", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    g = snap.get("gateway", {})
    table.add_row("gateway", "", _rate(g.get("rate")), _pct(g.get("success_rate")),
                  _ms(g.get("p50")), _ms(g.get("p95")), _ms(g.get("p99")),
                  str(g.get("in_flight", 0)), str(g.get("queue_depth", 0)), "", style="bold")
    hot = snap.get("hot") or {}
    for node in snap.get("topology", {}).get("nodes", []):
        name = node["name"]
        n = snap.get("nodes", {}).get(name, {})
        queue = f"{n.get('queue_depth', 0)}"
        style = "bold red" if hot.get("node") == name else None
        table.add_row(
            name, f"{n.get('replicas', node.get('replicas', 0))}/{node.get('replicas', 0)}",
            _rate(n.get("rate")), _pct(n.get("success_rate")), _ms(n.get("p50")),
            _ms(n.get("p95")), _ms(n.get("p99")),
            f"{n.get('in_flight', 0)}/{n.get('capacity', 0)}", queue,
            _clients(n.get("top_clients", [])), style=style)
    parts: list[RenderableType] = [table]
    if hot:
        line = Text(f"⚠ deepest queue: {hot['node']} with {hot['queue_depth']} waiting "
                    f"(capacity {hot.get('capacity')})", style="bold red")
        if hot.get("client"):
            line.append(f"; top client {hot['client']} has {hot['client_queued']} queued "
                        f"({hot['share'] * 100:.0f}%)")
        parts.append(line)
    return Group(*parts)


def register(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Add the ``top`` sub-command to `subparsers` (its handler `run` is set as ``func``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "top", help="live per-executor rates, latencies and queues of a running Flow",
        description="Poll a gateway's dashboard API and show it as a live table "
                    "(the gateway needs monitoring on).")
    p.add_argument("address", metavar="HOST:PORT",
                   help="the gateway's monitoring port (the 'dashboard' address), or its URL")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    p.add_argument("--once", action="store_true", help="print one table and exit")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per poll")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """Handle a parsed ``top`` command."""
    import logging

    import httpx
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per poll otherwise
    console = console or Console()
    url = snapshot_url(args.address)
    with httpx.Client(timeout=args.timeout) as http:

        def poll() -> RenderableType:
            try:
                reply = http.get(url)
                reply.raise_for_status()
                return render(reply.json())
            except (httpx.HTTPError, ValueError) as exc:
                return Text(unreachable_message(args.address, url, exc), style="red")

        if args.once:
            screen = poll()
            console.print(screen)
            return 1 if isinstance(screen, Text) else 0
        try:
            with Live(poll(), console=console, refresh_per_second=4) as live:
                while True:
                    time.sleep(args.interval)
                    live.update(poll())
        except KeyboardInterrupt:
            return 0
