#!/usr/bin/env bash
# Runs the PHP library's PHPUnit suite against a real server: `salesmachine` (the server's
# command) must be on PATH, as the Makefile arranges; else the repository's .venv is used.
# Exits non-zero when a test fails.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if ! command -v salesmachine >/dev/null 2>&1 && [[ -x "$repo/.venv/bin/salesmachine" ]]; then
    PATH="$repo/.venv/bin:$PATH"
fi
for tool in php phpunit sqlite3 setsid salesmachine; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-tests.sh: '$tool' is not installed (sdks/install-runtimes.sh installs php, phpunit and sqlite3; make venv the server)" >&2
        exit 2
    fi
done
if ! php -r 'exit(extension_loaded("curl") ? 0 : 1);'; then
    echo "run-tests.sh: PHP's curl extension is missing (Debian: php-curl; sdks/install-runtimes.sh)" >&2
    exit 2
fi

cd "$here"
exec phpunit --configuration phpunit.xml.dist "$@"
