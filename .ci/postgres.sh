#!/usr/bin/env bash
# PostgreSQL server binaries (initdb, pg_ctl, postgres) for the [postgresql] tests and bench/scale.py: the tests
# start a throwaway server from them (tests/support/postgres.py). Installs Debian's postgresql package only when
# no server binaries are found; otherwise it changes nothing and returns at once. Nothing to do when
# PTX_TEST_POSTGRES_URL names a server the tests may create databases on.
set -euo pipefail

have_server() {
  if [ -n "${PTX_POSTGRES_BINDIR:-}" ] && [ -x "$PTX_POSTGRES_BINDIR/initdb" ]; then return 0; fi
  for bin in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && [ -x "$bin/postgres" ]; then return 0; fi
  done
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1
}

if [ -n "${PTX_TEST_POSTGRES_URL:-}" ]; then
  echo "postgres: using the server at PTX_TEST_POSTGRES_URL"
  exit 0
fi
if have_server; then
  exit 0
fi

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
# Only the binaries are needed: no cluster of its own on port 5432 (a fresh install would create and start one).
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
  "${sudo[@]}" mkdir -p /etc/postgresql-common
  echo "create_main_cluster = false" | "${sudo[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
if ! have_server; then
  echo "postgres: the postgresql package is installed but initdb, pg_ctl and postgres are still not found" >&2
  exit 1
fi
echo "postgres: installed $(ls -d /usr/lib/postgresql/*/bin | tail -1)"
