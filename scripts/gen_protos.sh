#!/usr/bin/env bash
# Regenerates the Python code for the wire protocol. Run from the repository root after editing
# src/flowserve/proto/*.proto; the generated files are committed.
#
# The generator is pinned: generated code refuses protobuf/grpcio runtimes older than the ones
# it was generated for, so the grpcio-tools version here sets flowserve's floors in
# pyproject.toml (grpcio-tools 1.75.1 writes protobuf 6.31.1 gencode: protobuf>=6.31.1,
# grpcio>=1.75.1). It is installed into a venv of its own, away from the project's.
set -euo pipefail
cd "$(dirname "$0")/.."
GRPC_TOOLS_VERSION=1.75.1
venv="${TMPDIR:-/tmp}/flowserve-protoc-${GRPC_TOOLS_VERSION}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "grpcio-tools==${GRPC_TOOLS_VERSION}"
fi
"$venv/bin/python" -m grpc_tools.protoc -I src \
  --python_out=src --pyi_out=src --grpc_python_out=src \
  src/flowserve/proto/docarray.proto src/flowserve/proto/jina.proto
