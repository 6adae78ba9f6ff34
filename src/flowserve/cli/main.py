"""The `flowserve` command: thin wrappers that parse flags and call the library."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config.options import EXECUTOR_DEFAULTS, GATEWAY_DEFAULTS, SYNC_HANDLER_MODES
from ..config.worker_flags import DEFAULT_TIMEOUT_HANDLER
from ..errors import ConfigError, FlowserveError

__all__ = ["main"]


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc


def _add_process_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grace", type=float, default=GATEWAY_DEFAULTS.grace,
                   help="seconds to finish in-flight requests on SIGTERM (default %(default)g)")
    p.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--die-with-parent", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--env-file", action="append", default=[], metavar="VAR=PATH",
                   help="set VAR to the contents of file PATH before starting (a Secret mounted "
                        "as a file); repeatable")


def _add_observability_flags(p: argparse.ArgumentParser) -> None:
    """Monitoring and tracing flags shared by `flowserve executor` and `flowserve gateway`."""
    import os

    g = p.add_argument_group("observability (docs/observability.md)")
    g.add_argument("--monitoring", action="store_true",
                   help="serve Prometheus /metrics (the gateway: also /dashboard)")
    g.add_argument("--port-monitoring", type=int, default=0,
                   help="port of /metrics (default: a free port, in the ready line)")
    g.add_argument("--monitoring-host", default="127.0.0.1",
                   help="address /metrics binds to (default 127.0.0.1: this machine only)")
    g.add_argument("--tracing", action="store_true",
                   help="OpenTelemetry spans (needs: pip install 'flowserve[tracing]')")
    g.add_argument("--traces-exporter-host", default=None,
                   help="OTLP/gRPC collector host (default localhost)")
    g.add_argument("--traces-exporter-port", type=int, default=None,
                   help="OTLP/gRPC collector port (default 4317)")
    g.add_argument("--traces-file", default=os.environ.get("FLOWSERVE_TRACES_FILE") or None,
                   help="append finished spans as JSON lines to this file instead of exporting "
                        "them (default: $FLOWSERVE_TRACES_FILE)")


def _observability(args: argparse.Namespace) -> Any:
    from ..config.observability import ObservabilityOptions

    return ObservabilityOptions(
        monitoring=args.monitoring, port_monitoring=args.port_monitoring or None,
        monitoring_host=args.monitoring_host, tracing=args.tracing,
        traces_exporter_host=args.traces_exporter_host,
        traces_exporter_port=args.traces_exporter_port, traces_file=args.traces_file)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowserve", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--version", action="version", version=f"flowserve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    flow = sub.add_parser("flow", help="serve a Flow (gateway + executors) on this machine")
    flow.add_argument("--uses", required=True, type=Path, help="the Flow YAML file")

    ex = sub.add_parser("executor", help="serve one executor replica over gRPC")
    ex.add_argument("--uses", default=None,
                    help="module:Class, module.Class, file.py:Class or an executor YAML")
    ex.add_argument("--name", default=None, help="executor name (default: the class name)")
    ex.add_argument("--host", default="0.0.0.0")
    ex.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ex.add_argument("--uses-with", type=_json_arg, default={}, help="constructor kwargs (JSON)")
    ex.add_argument("--uses-metas", type=_json_arg, default={}, help="metas (JSON)")
    ex.add_argument("--uses-requests", type=_json_arg, default={},
                    help='endpoint -> method name (JSON), rebinding @requests')
    ex.add_argument("--uses-dynamic-batching", type=_json_arg, default={},
                    help='endpoint -> {"preferred_batch_size": N, "timeout": ms} (JSON), '
                         'overriding @dynamic_batching')
    ex.add_argument("--py-modules", nargs="*", default=[])
    ex.add_argument("--base-dir", type=Path, default=Path.cwd(),
                    help="where modules named in --uses/--py-modules are looked up first")
    ex.add_argument("--replica-id", type=int, default=0)
    ex.add_argument("--shard-id", type=int, default=0)
    ex.add_argument("--concurrency", type=int, default=EXECUTOR_DEFAULTS.concurrency,
                    help="requests handled at once by this replica (default %(default)s)")
    ex.add_argument("--sync-handlers", choices=SYNC_HANDLER_MODES,
                    default=EXECUTOR_DEFAULTS.sync_handlers,
                    help="where sync handlers run: auto (inline on the event loop once they "
                         "prove fast) or thread (always on the handler thread)")
    ex.add_argument("--workspace", default=None)
    ex.add_argument("--timeout-handler", type=float, default=DEFAULT_TIMEOUT_HANDLER,
                    help="seconds one handler call may take; then its request fails and the "
                         "process exits to be restarted (0: no limit; default 600)")
    ex.add_argument("--max-message-bytes", type=int, default=None,
                    help="largest gRPC message received or sent (default 32 MiB)")
    ex.add_argument("--ssl-certfile", default=None,
                    help="serve over TLS with this PEM certificate chain (no mesh)")
    ex.add_argument("--ssl-keyfile", default=None, help="the PEM private key of --ssl-certfile")
    _add_process_flags(ex)
    _add_observability_flags(ex)

    gw = sub.add_parser("gateway", help="serve a gateway for executors running elsewhere")
    gw.add_argument("--graph", type=_json_arg, default={},
                    help='JSON {"executor": ["needs", ...]}; "gateway" is the start')
    gw.add_argument("--deployments", type=_json_arg, default={},
                    help='JSON {"executor": ["host:port", ...]} (one address per replica), or '
                         '{"executor": {"addresses": [...], "concurrency": 1, ...}}')
    gw.add_argument("--protocol", nargs="+", default=["grpc"],
                    choices=["grpc", "http", "websocket"])
    gw.add_argument("--port", nargs="+", type=int, default=None)
    gw.add_argument("--host", default=GATEWAY_DEFAULTS.host)
    gw.add_argument("--prefetch", type=int, default=GATEWAY_DEFAULTS.prefetch)
    gw.add_argument("--name", default=GATEWAY_DEFAULTS.name)
    gw.add_argument("--max-queue", type=int, default=GATEWAY_DEFAULTS.max_queue,
                    help="requests that may wait at one executor deployment "
                         "(default %(default)s)")
    gw.add_argument("--max-queue-per-client", type=int,
                    default=GATEWAY_DEFAULTS.max_queue_per_client,
                    help="requests one client may have waiting at one deployment "
                         "(default %(default)s)")
    gw.add_argument("--client-weights", type=_json_arg, default={},
                    help='fair-share weights, JSON {"client-id": 2.0}')
    gw.add_argument("--trusted-proxies", nargs="+", default=[], metavar="CIDR",
                    help="proxies whose X-Forwarded-For names the client (docs/fairness.md)")
    gw.add_argument("--timeout", type=float, default=None,
                    help="default request deadline in seconds")
    gw.add_argument("--no-retries", dest="retries", action="store_false",
                    help="never retry a failed send on another replica (e.g. under a mesh)")
    gw.add_argument("--retry-budget", type=float, default=GATEWAY_DEFAULTS.retry_budget)
    gw.add_argument("--cors", action="store_true",
                    help="HTTP: allow every origin (CORS), as Jina's --cors")
    _add_process_flags(gw)
    _add_observability_flags(gw)
    from ..gateway.security import add_security_flags

    add_security_flags(gw)

    from .export import register as register_export

    register_export(sub)  # `flowserve export ...`; its parsers set `func`
    from .ping import register as register_ping

    register_ping(sub)  # `flowserve ping executor|gateway|flow HOST:PORT`
    from .top import register as register_top

    register_top(sub)  # `flowserve top HOST:PORT`: the dashboard's numbers in a terminal
    return parser


def _default_name(uses: str | None) -> str:
    """`module:Class` -> Class, `pkg.mod.Class` -> Class, `exec.yml` -> exec."""
    if not uses:
        return "executor"
    if ":" in uses:
        return uses.rsplit(":", 1)[1]
    if uses.endswith((".yml", ".yaml", ".py")):
        return Path(uses).stem
    return uses.rsplit(".", 1)[-1]


def _cmd_executor(args: argparse.Namespace) -> int:
    from ..servers.worker import WorkerOptions, run_worker

    run_worker(WorkerOptions(
        uses=args.uses, name=args.name or _default_name(args.uses),
        port=args.port, host=args.host, uses_with=args.uses_with, uses_metas=args.uses_metas,
        uses_requests=args.uses_requests, uses_dynamic_batching=args.uses_dynamic_batching,
        py_modules=list(args.py_modules), base_dir=args.base_dir, replica_id=args.replica_id,
        shard_id=args.shard_id, concurrency=args.concurrency, sync_handlers=args.sync_handlers,
        workspace=args.workspace, grace=args.grace, ready_fd=args.ready_fd,
        observability=_observability(args), timeout_handler=args.timeout_handler or None,
        **({"max_message_bytes": args.max_message_bytes} if args.max_message_bytes else {}),
        ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
    ))
    return 0


def _cmd_gateway(args: argparse.Namespace) -> int:
    from ..config.graph import graph_from_mapping
    from ..config.options import GatewayOptions
    from ..gateway.config import DeploymentConfig, GatewayConfig
    from ..gateway.security import SecurityConfig
    from ..servers.gateway import run_gateway

    ports = args.port or [0] * len(args.protocol)
    if len(ports) != len(args.protocol):
        raise SystemExit("flowserve gateway: give one --port per --protocol")
    if not isinstance(args.deployments, dict):
        raise SystemExit("flowserve gateway: --deployments must be a JSON object")
    run_gateway(GatewayConfig(
        graph=graph_from_mapping(args.graph),
        deployments={n: DeploymentConfig.parse(n, v) for n, v in args.deployments.items()},
        protocols=args.protocol, ports=ports,
        # the flags' values as given: the gateway process validates nothing more than before
        options=GatewayOptions.model_construct(
            host=args.host, prefetch=args.prefetch, name=args.name, grace=args.grace,
            max_queue=args.max_queue, max_queue_per_client=args.max_queue_per_client,
            client_weights=args.client_weights,
            trusted_proxies=args.trusted_proxies, timeout=args.timeout, retries=args.retries,
            retry_budget=args.retry_budget, cors=args.cors),
        ready_fd=args.ready_fd, observability=_observability(args),
        security=SecurityConfig.from_args(args),
    ))
    return 0


def _cmd_flow(args: argparse.Namespace) -> int:
    from ..flow import Flow

    Flow.load_config(args.uses).block()
    return 0


def _load_env_files(items: Sequence[str]) -> None:
    """``--env-file VAR=PATH``: the variable's value is the file's content (exported pods mount
    Secrets as files rather than expose them in their spec's environment)."""
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name:
            raise ConfigError(f"--env-file {item!r}: expected VAR=PATH")
        os.environ[name] = Path(path).read_text(encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "die_with_parent", False):
        from ..servers.parent import die_with_parent

        die_with_parent()
    commands = {"flow": _cmd_flow, "executor": _cmd_executor, "gateway": _cmd_gateway}
    try:
        _load_env_files(getattr(args, "env_file", []))
        return (getattr(args, "func", None) or commands[args.command])(args)
    except (FlowserveError, OSError) as exc:  # bad config, port in use: one clear line
        print(f"flowserve {args.command}: error: {exc}", file=sys.stderr)
        return 1
