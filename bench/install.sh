#!/bin/sh
# Installs what the benchmarks need: wrk (Debian package) and bench/requirements.txt into the
# venv. Called by bench/run.py when something is missing; safe to run again. Granian is
# optional: when it cannot be installed the Granian rows are left out of the results.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${1:-$HERE/../.venv/bin/python}
if ! command -v wrk >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; }
fi
if ! "$PYTHON" -m pip install --quiet -r "$HERE/requirements.txt"; then
    echo "bench/install.sh: granian could not be installed; installing matplotlib alone" >&2
    grep -i '^matplotlib' "$HERE/requirements.txt" | xargs "$PYTHON" -m pip install --quiet
fi
