#!/usr/bin/env bash
# What the browser tests (server/tests/test_browser_library.py) need: Debian's Chromium at
# /usr/bin/chromium, and Playwright for Python in the venv to drive it. `playwright install` is
# never run: it downloads a browser build of its own. Idempotent, and quick when both are there.
#
#   sdks/js/install-browser.sh [VENV]     (VENV: the repository's .venv by default)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$root/.venv}"

if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null

if [ -x "$venv/bin/python" ]; then
    if ! "$venv/bin/python" -c "import playwright" 2>/dev/null; then
        "$venv/bin/python" -m pip install --quiet playwright
    fi
    "$venv/bin/python" -c "import importlib.metadata as m; print('playwright', m.version('playwright'))"
else
    echo "no venv at $venv yet: Playwright comes with the server's test extra (make venv)"
fi
