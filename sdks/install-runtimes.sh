#!/usr/bin/env bash
# Installs what the Ruby and PHP client suites need, from Debian's packages:
#   ruby + ruby-minitest   the gem and its minitest suite (Ruby 3.1 on bookworm)
#   php-cli + php-curl     the PHP library (PHP 8.2 on bookworm) and its transport
#   phpunit                the PHP suite
#   sqlite3                both suites read what the server stored with `sqlite3 -json`
# Idempotent: when every package is already installed it asks dpkg and exits, without
# touching the network, so the Makefile can call it before every test run.
set -euo pipefail

PACKAGES=(ruby ruby-minitest php-cli php-curl phpunit sqlite3)

missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-runtimes: ruby, php, phpunit and sqlite3 are installed"
    exit 0
fi

echo "install-runtimes: installing ${missing[*]}"
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# Recommends are left out: they pull in documentation and editors the suites never use.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-runtimes: done"
