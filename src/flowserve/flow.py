"""The Python API of a Flow: build it (or load YAML), run it locally, post to it."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .config.spec import ExecutorSpec, FlowSpec, flow_from_dict, load_flow, spec_to_dict
from .errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .client import Client
    from .client._batching import InputType
    from .documents.array import DocumentArray
    from .documents.document import Document
    from .local.local_flow import FlowAddresses, LocalFlow
    from .wire.request import DataRequest

__all__ = ["Flow"]


class Flow:
    """A pipeline of executors behind a gateway.

    ``Flow(port=8080, protocol='grpc', prefetch=...)`` takes the keys of a Flow YAML's ``with:``
    block; ``.add(name=..., uses=MyExecutor, ...)`` the keys of one ``executors:`` entry.
    ``with flow:`` starts every process locally and stops them on exit.
    """

    def __init__(self, **with_: Any) -> None:
        self._spec: FlowSpec = flow_from_dict({"with": with_})
        self._runtime: LocalFlow | None = None
        self._client: Client | None = None

    @classmethod
    def load_config(cls, path: str | Path) -> Flow:
        """A Flow from a YAML file (errors name the file, line and key)."""
        flow = cls()
        flow._spec = load_flow(path)
        return flow

    def add(self, **executor: Any) -> Flow:
        """Append an executor; `name` defaults to `executor<N>`. Returns the Flow, for chaining."""
        executor.setdefault("name", f"executor{len(self.spec.executors)}")
        spec = self.spec
        try:
            new = ExecutorSpec.model_validate(executor)
        except Exception as exc:  # pydantic's message names the key; add which executor
            raise ConfigError(f"Flow.add(name={executor['name']!r}): {exc}") from exc
        data = spec.model_copy(update={"executors": [*spec.executors, new]})
        self._spec = flow_from_dict(spec_to_dict(data), source=spec.source)
        return self

    @property
    def spec(self) -> FlowSpec:
        """The validated configuration this Flow runs."""
        return self._spec

    # -- running ---------------------------------------------------------------------------
    def start(self) -> Flow:
        """Start the gateway and one process per executor replica; returns when all are ready."""
        from .local.local_flow import LocalFlow
        from .servers.guard import check_flow_start_allowed

        check_flow_start_allowed()
        if self._runtime is None:
            # auto: fork the processes from a template when safe (docs/architecture.md)
            method = os.environ.get("FLOWSERVE_START_METHOD") or "auto"
            runtime = LocalFlow(self.spec, start_method=method)
            runtime.start()
            self._runtime = runtime
        return self

    def close(self) -> None:
        """Stop every process of the Flow (gateway first, draining in-flight requests)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._runtime is not None:
            runtime, self._runtime = self._runtime, None
            runtime.stop()

    def __enter__(self) -> Flow:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def addresses(self) -> FlowAddresses | None:
        """Where the running Flow listens (`FlowAddresses`), or None when not started."""
        return self._runtime.addresses if self._runtime is not None else None

    @property
    def port(self) -> int:
        """The gateway's first port."""
        return next(iter(self._require_running().gateway_ports.values()))

    @property
    def protocol(self) -> str:
        return next(iter(self._require_running().gateway_ports))

    def _require_running(self) -> FlowAddresses:
        if self._runtime is None or self._runtime.addresses is None:
            raise RuntimeError("the Flow is not running: use `with flow:` or flow.start()")
        return self._runtime.addresses

    def client(self, protocol: str | None = None) -> Client:
        """A Client connected to this Flow's gateway (its first gRPC or HTTP port by default;
        flowserve's Client does not speak WebSocket, Jina's does)."""
        from .client import Client

        addresses = self._require_running()
        if protocol is None:
            protocol = next((p for p in addresses.gateway_ports if p != "websocket"), None)
            if protocol is None:
                raise RuntimeError("this Flow serves only websocket; flowserve's Client speaks "
                                   "grpc and http (add one to the Flow's protocols)")
        return Client(host=addresses.gateway_url(protocol))

    def post(self, on: str = "/", inputs: InputType = None,
             **kwargs: Any) -> DocumentArray | list[DataRequest] | None:
        """`Client.post` against this Flow's gateway."""
        if self._client is None:
            self._client = self.client()
        return self._client.post(on, inputs, **kwargs)

    def stream_doc(self, on: str, inputs: Document, parameters: dict[str, Any] | None = None,
                   **kwargs: Any) -> Iterator[Document]:
        """`Client.stream_doc` against this Flow's gateway (docs/streaming.md)."""
        if self._client is None:
            self._client = self.client()
        return self._client.stream_doc(on, inputs, parameters, **kwargs)

    def index(self, inputs: InputType = None,
              **kwargs: Any) -> DocumentArray | list[DataRequest] | None:
        """`post('/index', ...)`, as Jina's ``Flow.index``."""
        return self.post("/index", inputs, **kwargs)

    def search(self, inputs: InputType = None,
               **kwargs: Any) -> DocumentArray | list[DataRequest] | None:
        """`post('/search', ...)`, as Jina's ``Flow.search``."""
        return self.post("/search", inputs, **kwargs)

    def block(self, stop_event: threading.Event | None = None) -> None:
        """Serve until Ctrl-C / SIGTERM (or `stop_event` is set), then stop the Flow; a second
        Ctrl-C while it stops kills its processes at once."""
        from .local.signals import StopSignals
        from .local.table import print_addresses

        self.start()
        stop = stop_event or threading.Event()
        runtime = self._runtime
        assert runtime is not None  # started above
        with StopSignals(stop, escalate=runtime.kill):
            try:
                print_addresses(self.spec, self._require_running())
                stop.wait()  # the local runtime restarts processes that die meanwhile
            finally:
                self.close()

    # -- export ----------------------------------------------------------------------------
    def to_kubernetes_yaml(self, output_base_path: str | Path,
                           k8s_namespace: str | None = None) -> list[Path]:
        """Write Kubernetes manifests (Linkerd-ready) to a folder; see docs/kubernetes.md."""
        from .export import export_kubernetes

        return export_kubernetes(self.spec, output_base_path, namespace=k8s_namespace)

    def to_docker_compose_yaml(self, output_path: str | Path) -> Path:
        """Write a Docker Compose file for this Flow; see docs/kubernetes.md."""
        from .export import export_compose

        return export_compose(self.spec, output_path)

