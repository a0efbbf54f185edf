#!/usr/bin/env bash
# Segment's node client for server/tests/test_segment_clients.py: @segment/analytics-node as
# package-lock.json pins it, from the npm registry. Idempotent, and quick when it is there.
# Without node or npm: a line that says so, and the tests skip (in CI, CI=true: a failure).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v npm >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then echo "npm is missing: Segment's node client cannot be installed" >&2; exit 1; fi
    echo "SKIPPED: Segment's node client (npm is not installed)"
    exit 0
fi
if [ ! -f "$here/node_modules/@segment/analytics-node/package.json" ] \
    || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
node -e "console.log('@segment/analytics-node', require('$here/node_modules/@segment/analytics-node/package.json').version)"
