#!/usr/bin/env bash
# Builds the browser library with the esbuild pinned in package-lock.json:
#
#   sdks/js/build.sh [OUTPUT]
#
# OUTPUT defaults to the copy the server ships and serves at /javascripts/salesmachine.min.js
# (server/src/salesmachine_server/web/static/salesmachine.min.js), which is committed so that
# the server needs no node; the test suite checks it equals a fresh build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../server/src/salesmachine_server/web/static/salesmachine.min.js}"
cd "$here"

# npm ci only when the lock file changed since the last install (it empties node_modules).
if ! cmp -s package-lock.json node_modules/.installed-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json node_modules/.installed-lock
fi

version="$(node -p 'require("./package.json").version')"
mkdir -p "$(dirname "$out")"
./node_modules/.bin/esbuild src/salesmachine.js --minify --target=es5 --charset=utf8 \
    --log-level=warning --banner:js="/*! salesmachine.js $version | MIT */" --outfile="$out.tmp"
mv "$out.tmp" "$out"
echo "built $out ($(wc -c <"$out") bytes, $(gzip -9c "$out" | wc -c) gzipped)"
