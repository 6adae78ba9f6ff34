"""What a Flow's processes import before they serve: only what their role uses.

Each module a gateway or executor imports is paid at every start (and every restart); these
are the heavy ones a gRPC-only Flow with monitoring and tracing off does not use."""

from __future__ import annotations

import os
import subprocess
import sys

UNUSED = {"fastapi", "starlette", "uvicorn", "prometheus_client", "rich", "httpx",
          "opentelemetry"}


def _imported_after(code: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, env=env, timeout=120,
                         capture_output=True, text=True).stdout
    return set(out.split())


def test_the_process_stacks_import_no_http_metrics_or_terminal_libraries():
    modules = _imported_after(
        "import flowserve.servers.worker, flowserve.servers.gateway, flowserve.local.local_flow\n"
        "from flowserve.cli.main import _parser\n_parser()\n"
        "from flowserve.observe.wiring import GatewayObservability, WorkerObservability\n"
        "WorkerObservability(monitoring=False)\n"
        "GatewayObservability(name='gateway', monitoring=False)")
    assert not modules & UNUSED, modules & UNUSED


def test_a_grpc_client_imports_no_http_library():
    modules = _imported_after("from flowserve import Client\nClient(host='grpc://127.0.0.1:1')")
    assert "httpx" not in modules
