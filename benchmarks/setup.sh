#!/usr/bin/env bash
# Set up the benchmark environment: wrk (best effort) and a separate virtualenv.
#
#   bash benchmarks/setup.sh [VENV]      # VENV defaults to .venv-bench
#
# wrk is optional: without it the benchmarks use their built-in load generator.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv-bench}"
PYTHON="${PYTHON:-python3}"

if ! command -v wrk >/dev/null 2>&1; then
    echo "setup: wrk not found; trying apt-get (optional)" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    fi
    if command -v apt-get >/dev/null 2>&1; then
        timeout 300 $SUDO apt-get install -y wrk >/dev/null 2>&1 \
            || { timeout 300 $SUDO apt-get update >/dev/null 2>&1 \
                 && timeout 300 $SUDO apt-get install -y wrk >/dev/null 2>&1; } \
            || echo "setup: could not install wrk; using the built-in load generator" >&2
    fi
fi

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e . -r benchmarks/requirements.txt
echo "setup: ready: $VENV/bin/python -m benchmarks.run --quick" >&2
