#!/usr/bin/env bash
# Install flowserve into .venv and serve the demo Flow (examples/linkerd-demo) locally.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/flowserve flow --uses examples/linkerd-demo/flow.yml
