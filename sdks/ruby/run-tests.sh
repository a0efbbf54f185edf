#!/usr/bin/env bash
# Runs the Ruby gem's minitest suite against a real server: `salesmachine` (the server's
# command) must be on PATH, as the Makefile arranges; else the repository's .venv is used.
# Exits non-zero when a test fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if ! command -v salesmachine >/dev/null 2>&1 && [[ -x "$repo/.venv/bin/salesmachine" ]]; then
    PATH="$repo/.venv/bin:$PATH"
fi
for tool in ruby sqlite3 salesmachine; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-tests.sh: '$tool' is not installed (sdks/install-runtimes.sh installs ruby and sqlite3; make venv the server)" >&2
        exit 2
    fi
done

cd "$here"
# One process for every file, so the server and its projects are shared.
exec ruby -w -Ilib -Itest -e 'Dir["test/*_test.rb"].sort.each { |file| require_relative file }' -- "$@"
