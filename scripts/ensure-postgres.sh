#!/usr/bin/env bash
# Makes sure the tests can reach PostgreSQL: a server answering on
# localhost:5432 (or VALISE_TEST_DATABASE_URL), or the server binaries, so
# the test binaries can start a throwaway cluster themselves. On a machine
# with neither it installs Debian's postgresql package (as root), or says
# what to install.
set -euo pipefail

answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
have_binaries() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if [ -n "${VALISE_TEST_DATABASE_URL:-}" ] || answers || have_binaries; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL is needed for the tests: install it (apt-get install postgresql)," >&2
  echo "or set VALISE_TEST_DATABASE_URL to a server you can create databases on." >&2
  exit 1
fi
echo "installing PostgreSQL server binaries (apt-get install postgresql)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
have_binaries || { echo "postgresql installed but initdb not found" >&2; exit 1; }
