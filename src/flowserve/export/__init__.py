"""Export a Flow to Kubernetes manifests, a Docker Compose file, or Dockerfiles.

Data to data: :func:`kubernetes_manifests` and :func:`compose_file` turn a
:class:`~flowserve.config.spec.FlowSpec` (plus the image plan of :func:`plan_images`) into plain
dicts; :mod:`~flowserve.export.validate` checks them; :mod:`~flowserve.export.writer` dumps them
with ``yaml.safe_dump``. The ``flowserve export`` command (:mod:`flowserve.cli.export`) chains
these.

Every name below is imported on first use (PEP 562), so the ``flowserve`` command line, which
registers :mod:`flowserve.export.cli` in every process (gateways and executors included), does
not pay for the export modules unless it exports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._common import ExportError
    from .compose import compose_file
    from .images import ExecutorImage, plan_images
    from .kubernetes import kubernetes_manifests
    from .writer import export_compose, export_dockerfiles, export_kubernetes

__all__ = [
    "ExecutorImage",
    "ExportError",
    "compose_file",
    "export_compose",
    "export_dockerfiles",
    "export_kubernetes",
    "kubernetes_manifests",
    "plan_images",
]

_HOME = {  # public name -> the submodule defining it
    "ExecutorImage": "images",
    "ExportError": "_common",
    "compose_file": "compose",
    "export_compose": "writer",
    "export_dockerfiles": "writer",
    "export_kubernetes": "writer",
    "kubernetes_manifests": "kubernetes",
    "plan_images": "images",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
