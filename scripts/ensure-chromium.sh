#!/usr/bin/env bash
# Makes sure the print tests can render pages in a real browser: Debian's
# chromium (headless). On a machine without it, it installs the package (as
# root), or says what to install; the print tests skip with that message
# when chromium is absent, so the rest of the suite runs either way.
set -euo pipefail

have() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "${VALISE_CHROMIUM:-}" ]; }

if have; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium is needed for the print tests (they skip without it): apt-get install chromium," >&2
  echo "or set VALISE_CHROMIUM to a Chromium or Chrome binary." >&2
  exit 0
fi
echo "installing chromium for the print tests (apt-get install chromium)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
have || { echo "chromium installed but not found on PATH" >&2; exit 1; }
