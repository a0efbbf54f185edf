#!/usr/bin/env bash
# Copies the dashboard's front-end libraries from npm into web/static/vendor/, where they are
# committed and served by the server itself: a dashboard on a network without internet access
# must still draw its charts, so nothing is loaded from a CDN. Run after changing a version in
# package.json, then commit package-lock.json and the copied files.
#
#   server/web-vendor/vendor.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="$here/../src/salesmachine_server/web/static/vendor"
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund --silent
mkdir -p "$target"
cp node_modules/chart.js/dist/chart.umd.min.js "$target/chart.umd.min.js"
cp node_modules/chart.js/LICENSE.md "$target/chart.js-LICENSE.md"
echo "vendored chart.js $(node -p "require('./node_modules/chart.js/package.json').version") into $target"
