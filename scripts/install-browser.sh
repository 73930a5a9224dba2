#!/bin/sh
# Install Debian's Chromium for the debugger's browser tests (Playwright drives it headless
# through executable_path=/usr/bin/chromium; no browser is downloaded by Playwright).
# Idempotent: does nothing when Chromium is already there. Needs root (or sudo) for apt-get.
set -eu

CHROMIUM="${TESSERA_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo present) at $CHROMIUM"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-browser: need root or sudo to run apt-get" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium
echo "chromium: installed at $(command -v chromium)"
