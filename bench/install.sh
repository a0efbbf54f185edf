#!/bin/sh
# Installs what the benchmarks need: wrk (Debian package) and bench/requirements.txt into the
# venv. Called by bench/run.py when something is missing; safe to run again. Only matplotlib
# is required: without Granian its rows are left out, without py-spy the reasons lack a profile.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${1:-$HERE/../.venv/bin/python}
if ! command -v wrk >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y wrk || { $SUDO apt-get update && $SUDO apt-get install -y wrk; }
fi
if ! "$PYTHON" -m pip install --quiet -r "$HERE/requirements.txt"; then
    echo "bench/install.sh: installing bench/requirements.txt one by one" >&2
    for requirement in $(grep -v '^#' "$HERE/requirements.txt"); do
        case "$requirement" in
            matplotlib*) "$PYTHON" -m pip install --quiet "$requirement" ;;
            *) "$PYTHON" -m pip install --quiet "$requirement" || echo "bench/install.sh: $requirement not installed" >&2 ;;
        esac
    done
fi
