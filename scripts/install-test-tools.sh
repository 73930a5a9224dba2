#!/bin/sh
# Install the Debian packages the test suite drives: Chromium for the browser tests
# (Playwright uses executable_path=/usr/bin/chromium; it downloads no browser), zsh and fish
# to check the generated shell completions, node and npm for the openid-client relying party
# (tests/server/test_server_oidc_openid_client.py). Idempotent: installs only what is missing.
# Needs root (or sudo) for apt-get when something is missing.
set -eu

CHROMIUM="${TESSERA_CHROMIUM:-/usr/bin/chromium}"
missing=""
[ -x "$CHROMIUM" ] || missing="$missing chromium"
command -v zsh >/dev/null 2>&1 || missing="$missing zsh"
command -v fish >/dev/null 2>&1 || missing="$missing fish"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -z "$missing" ]; then
    echo "test tools: chromium, zsh, fish, node and npm present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-test-tools: need root or sudo to apt-get install$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086 # one word per package
$SUDO apt-get install -y --no-install-recommends $missing
echo "test tools: installed$missing"
