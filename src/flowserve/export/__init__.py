"""Export a Flow to Kubernetes manifests, a Docker Compose file, or Dockerfiles.

Data to data: :func:`kubernetes_manifests` and :func:`compose_file` turn a
:class:`~flowserve.spec.FlowSpec` (plus the image plan of :func:`plan_images`) into plain dicts;
:mod:`~flowserve.export.validate` checks them; :mod:`~flowserve.export.writer` dumps them with
``yaml.safe_dump``. The ``flowserve export`` command (:mod:`flowserve.export.cli`) chains these.
"""

from __future__ import annotations

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
