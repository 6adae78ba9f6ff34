"""The declared public API: what `import flowserve` offers, and that importing it does nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import flowserve


def test_exported_members():
    assert sorted(flowserve.__all__) == sorted([
        "AsyncClient", "Client", "DataRequest", "Document", "DocumentArray", "Executor", "Flow",
        "__version__", "dynamic_batching", "requests",
    ])
    for name in flowserve.__all__:
        assert getattr(flowserve, name) is not None


def test_import_has_no_side_effects():
    code = (
        "import os, signal, sys; before = dict(os.environ); "
        "handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}; "
        "import flowserve; "
        "assert dict(os.environ) == before; "
        "assert handlers == {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}; "
        "import threading; assert threading.active_count() == 1, threading.enumerate(); "
        # the client and the Flow load on first use: an executor module stays quick to import
        "eager = {'httpx', 'grpc', 'flowserve.client', 'flowserve.flow'} & set(sys.modules); "
        "assert not eager, eager; "
        "from flowserve import Client, Flow; assert 'flowserve.client' in sys.modules; "
        # httpx only for an HTTP client (a third of a second of a gRPC user's start-up)
        "Client(host='grpc://127.0.0.1:1'); assert 'httpx' not in sys.modules; "
        "Client(host='http://127.0.0.1:1'); assert 'httpx' in sys.modules"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_the_root_holds_the_public_api_and_one_folder_per_layer():
    root = Path(flowserve.__file__).parent
    modules = sorted(p.stem for p in root.glob("*.py"))
    assert modules == ["__init__", "__main__", "_version", "errors", "executor", "flow"]
    packages = sorted(p.name for p in root.iterdir() if (p / "__init__.py").is_file())
    assert packages == ["cli", "client", "config", "documents", "export", "gateway", "local",
                        "observe", "proto", "servers", "transport", "wire", "worker"]
