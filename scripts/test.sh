#!/usr/bin/env bash
# Install flowserve with its test and dev dependencies into .venv, then check the code (ruff, mypy)
# and run the whole test suite.
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
# The dashboard test drives headless Chromium (Debian's package); install it when we can.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    >/tmp/flowserve-chromium-install.log 2>&1 \
    || echo "warning: could not install chromium (see /tmp/flowserve-chromium-install.log)" >&2
fi
.venv/bin/python -m ruff check --no-cache
.venv/bin/python -m mypy --no-incremental --cache-dir /dev/null
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
