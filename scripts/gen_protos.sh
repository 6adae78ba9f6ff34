#!/usr/bin/env bash
# Regenerates the Python code for the wire protocol. Run from the repository root after editing
# src/flowserve/proto/*.proto; the generated files are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m grpc_tools.protoc -I src \
  --python_out=src --pyi_out=src --grpc_python_out=src \
  src/flowserve/proto/docarray.proto src/flowserve/proto/jina.proto
