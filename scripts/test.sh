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
# The dashboard test drives headless Chromium (Debian's package); install it when we can.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    >/tmp/flowserve-chromium-install.log 2>&1 \
    || echo "warning: could not install chromium (see /tmp/flowserve-chromium-install.log)" >&2
fi
# The Jina-client compatibility tests drive Jina 3.34 in its own venv; they skip if it cannot be built.
bash scripts/jina_venv.sh || true
.venv/bin/python -m ruff check --no-cache
.venv/bin/python -m mypy --no-incremental --cache-dir /dev/null
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
