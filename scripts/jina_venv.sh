#!/usr/bin/env bash
# Build the Jina 3.34 virtualenv that the Jina-client compatibility tests drive as a subprocess
# (tests/integration/test_jina_client.py). Jina pins grpcio <= 1.68, so it cannot share .venv.
# Location: $FLOWSERVE_JINA_VENV, default /tmp/flowserve-jina-venv. Does nothing when the venv
# already imports jina 3.34.0. Exits non-zero (the tests then skip, naming the log) on failure.
set -euo pipefail
VENV="${FLOWSERVE_JINA_VENV:-/tmp/flowserve-jina-venv}"
LOG="${VENV}-install.log"
export JINA_OPTOUT_TELEMETRY=1
if [ -x "$VENV/bin/python" ] && \
   [ "$("$VENV/bin/python" -c 'import jina; print(jina.__version__)' 2>/dev/null)" = "3.34.0" ]; then
  exit 0
fi
# The pins that make Jina 3.34 resolve and import on Python 3.11 today.
PINS=(
  jina==3.34.0 grpcio==1.68.0 grpcio-health-checking==1.68.0 grpcio-reflection==1.68.0
  opentelemetry-api==1.28.2 opentelemetry-sdk==1.28.2 opentelemetry-exporter-otlp==1.28.2
  opentelemetry-exporter-otlp-proto-grpc==1.28.2 opentelemetry-exporter-prometheus==0.49b2
  opentelemetry-instrumentation==0.49b2 opentelemetry-instrumentation-grpc==0.49b2
  opentelemetry-instrumentation-aiohttp-client==0.49b2
  opentelemetry-instrumentation-fastapi==0.49b2 opentelemetry-semantic-conventions==0.49b2
  'docarray==0.21.*' 'numpy==1.26.*' 'pydantic<2' 'fastapi==0.99.*' 'setuptools<70'
)
{
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet "${PINS[@]}"
  "$VENV/bin/python" -c 'import jina; assert jina.__version__ == "3.34.0", jina.__version__'
} >"$LOG" 2>&1 || { echo "warning: could not build the Jina venv $VENV (see $LOG)" >&2; exit 1; }
