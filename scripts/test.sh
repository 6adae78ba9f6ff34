#!/usr/bin/env bash
# Install flowserve with its test and dev dependencies into .venv, then check the code (ruff, mypy)
# and run the whole test suite; then run the unit tests and a few integration tests again in
# .venv-min, on the minimum versions of grpcio/protobuf/numpy (scripts/min-constraints.txt).
# Arguments go to the first pytest run; the second is skipped when arguments are given or
# FLOWSERVE_SKIP_MIN=1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,tracing,dev]'
# checkov (tests/unit/export/test_export_checkov.py) pins packaging<24, which pytest>=8 cannot
# use, so it lives in its own virtualenv and the test calls its binary.
CHECKOV_REQUIREMENT='checkov>=3.2,<4'
if [ ! -x .venv-checkov/bin/checkov ]; then
  python3 -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet "$CHECKOV_REQUIREMENT"
fi
# Install a Debian package when its command is missing and we can (root, apt-get); the tests
# needing it fail, not skip, when it is still missing.
apt_install_missing() {  # COMMAND PACKAGE
  if ! command -v "$1" >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") \
      >"/tmp/flowserve-$2-install.log" 2>&1 \
      || echo "warning: could not install $2 (see /tmp/flowserve-$2-install.log)" >&2
  fi
}
# The dashboard test drives headless Chromium (Debian's package).
apt_install_missing chromium chromium
# The Prometheus tests (tests/integration/test_prometheus.py, tests/unit/observe/test_alerts.py)
# run Debian's prometheus and promtool. The package may start its own service; the tests run
# their own instance on a free port.
apt_install_missing promtool prometheus
# The Jina-client compatibility tests drive Jina 3.34 in its own venv; they skip if it cannot be built.
bash scripts/jina_venv.sh || true
.venv/bin/python -m ruff check --no-cache
.venv/bin/python -m mypy --no-incremental --cache-dir /dev/null
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
if [ "$#" -eq 0 ] && [ "${FLOWSERVE_SKIP_MIN:-}" != 1 ]; then
  if [ ! -x .venv-min/bin/python ]; then
    python3 -m venv .venv-min
  fi
  .venv-min/bin/python -m pip install --quiet --upgrade pip
  .venv-min/bin/python -m pip install --quiet -c scripts/min-constraints.txt -e '.[test,tracing]'
  # Fail if pip resolved anything but the pinned minimums (a constraint it could not honour).
  .venv-min/bin/python - <<'PY'
from importlib.metadata import version
pins = [line.split("#")[0].strip() for line in open("scripts/min-constraints.txt")]
wrong = [f"{name}=={version(name)} (want {want})" for name, want in
         (pin.split("==") for pin in pins if pin) if version(name) != want]
if wrong:
    raise SystemExit(f".venv-min does not have the minimum versions: {', '.join(wrong)}")
PY
  .venv-min/bin/python -m pytest -q -p no:cacheprovider tests/unit \
    tests/integration/test_flow_python_api.py tests/integration/test_main_executors.py
fi
