"""``flowserve export``: thin handlers that load a Flow and call :mod:`flowserve.export`.

::

    flowserve export kubernetes FLOW OUTDIR [--k8s-namespace NS] [--cluster-domain D]
                                            [--instance NAME] [--pod-security LEVEL]
    flowserve export docker-compose FLOW OUT.yml
    flowserve export dockerfile FLOW OUTDIR [--base-image IMAGE]
    flowserve export prometheus-rules OUT.yml
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``export`` command (and its formats) to the ``flowserve`` sub-parsers."""
    export = subparsers.add_parser(
        "export", help="export a Flow to Kubernetes, Docker Compose or Dockerfiles",
        description="Export a Flow: Kubernetes manifests (Linkerd-ready), a Docker Compose "
                    "file, or Dockerfiles for its executor images. Nothing is applied or run.")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")

    k8s = formats.add_parser("kubernetes", help="write Kubernetes manifests to OUTDIR")
    k8s.add_argument("flow", type=Path, help="the Flow YAML file")
    k8s.add_argument("outdir", type=Path, help="folder for the manifests (kubectl apply -R -f)")
    k8s.add_argument("--k8s-namespace", default=None,
                     help="namespace of every object, created by the export (default flowserve)")
    k8s.add_argument("--cluster-domain", default="cluster.local",
                     help="the cluster's DNS domain, for ServiceProfile names")
    k8s.add_argument("--instance", default=None,
                     help="name of this Flow in the namespace, prefixed to every object name, so "
                          "that several Flows share one namespace (default: the namespace's "
                          "only Flow, bare names)")
    k8s.add_argument("--pod-security", default="restricted",
                     choices=["restricted", "baseline", "privileged"],
                     help="Pod Security Standard the Namespace enforces (default restricted; "
                          "Linkerd without its CNI plugin needs privileged)")
    k8s.set_defaults(func=_cmd_kubernetes)

    compose = formats.add_parser("docker-compose", help="write a Docker Compose file")
    compose.add_argument("flow", type=Path, help="the Flow YAML file")
    compose.add_argument("output", type=Path, help="the Compose file to write")
    compose.set_defaults(func=_cmd_compose)

    docker = formats.add_parser("dockerfile",
                                help="write Dockerfiles (build contexts) for executor images")
    docker.add_argument("flow", type=Path, help="the Flow YAML file")
    docker.add_argument("outdir", type=Path, help="folder for the build contexts")
    docker.add_argument("--base-image", default=None,
                        help="image the executor images start from "
                             "(default flowserve/flowserve:<version>)")
    docker.set_defaults(func=_cmd_dockerfile)

    rules = formats.add_parser(
        "prometheus-rules", help="write flowserve's Prometheus alert rules (rule_files:)")
    rules.add_argument("output", type=Path, help="the rules file to write")
    rules.set_defaults(func=_cmd_rules)


def _cmd_kubernetes(args: argparse.Namespace) -> int:
    from ..config.spec import load_flow
    from ..export.writer import export_kubernetes

    files = export_kubernetes(load_flow(args.flow), args.outdir, namespace=args.k8s_namespace,
                              cluster_domain=args.cluster_domain, instance=args.instance,
                              pod_security=args.pod_security)
    for path in files:
        print(path)
    return 0


def _cmd_compose(args: argparse.Namespace) -> int:
    from ..config.spec import load_flow
    from ..export.writer import export_compose

    print(export_compose(load_flow(args.flow), args.output))
    return 0


def _cmd_dockerfile(args: argparse.Namespace) -> int:
    from ..config.spec import load_flow
    from ..export.writer import BASE_CONTEXT, export_dockerfiles

    contexts = export_dockerfiles(load_flow(args.flow), args.outdir, base=args.base_image)
    base = Path(args.outdir) / BASE_CONTEXT / "Dockerfile"
    print(f"# the base image, from a flowserve checkout:\n"
          f"docker build -t {_base_tag()} -f {base} <flowserve checkout>")
    for context, tag in contexts.items():
        print(f"docker build -t {tag} {context}")
    return 0


def _cmd_rules(args: argparse.Namespace) -> int:
    from ..export.writer import export_rules

    print(export_rules(args.output))
    return 0


def _base_tag() -> str:
    from ..export._common import base_image

    return base_image()
