#!/usr/bin/env bash
# Copies the dashboard's front-end libraries from npm into web/static/vendor/, where they are
# committed and served by the server itself: a dashboard on a network without internet access
# must still draw its charts and /docs its API viewer, so nothing is loaded from a CDN. Run after changing a version in
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
# Swagger UI for /docs: the bundle (no separate preset: /docs uses the base layout), its
# stylesheet without the source-map comment (the map is not vendored, so a browser's developer
# tools would ask for a file that is not there), its licence, notice and bundled licences.
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js "$target/swagger-ui-bundle.js"
sed '/sourceMappingURL=/d' node_modules/swagger-ui-dist/swagger-ui.css > "$target/swagger-ui.css"
cp node_modules/swagger-ui-dist/LICENSE "$target/swagger-ui-LICENSE"
cp node_modules/swagger-ui-dist/NOTICE "$target/swagger-ui-NOTICE"
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt "$target/swagger-ui-bundle.js.LICENSE.txt"
echo "vendored chart.js $(node -p "require('./node_modules/chart.js/package.json').version") and swagger-ui-dist $(node -p "require('./node_modules/swagger-ui-dist/package.json').version") into $target"
