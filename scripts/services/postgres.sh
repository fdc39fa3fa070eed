#!/usr/bin/env bash
# A loopback PostgreSQL in its own folder (no systemd, no system cluster), for a one-machine
# tracking server and the services tests. Idempotent: start on a running server only prints.
#   scripts/services/postgres.sh start [DIR] [PORT]   # prints the database URL
#   scripts/services/postgres.sh stop  [DIR]
# Trust authentication on 127.0.0.1 only: fine on one machine; a shared server needs passwords.
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop|url [DIR] [PORT]}
dir=$(realpath -m "${2:-${IMBLLM_SERVICES_DIR:-/tmp/imbllm-services}}/postgres")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
[ -x "$bin/pg_ctl" ] || bin=$(dirname "$(command -v pg_ctl || echo /missing/pg_ctl)")
[ -x "$bin/pg_ctl" ] || { echo "postgres.sh: pg_ctl not found; apt-get install postgresql" >&2; exit 3; }

# PostgreSQL refuses to run as root: as root, the server runs as the postgres user.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
url() { echo "postgresql+psycopg://imbllm@127.0.0.1:$(cat "$dir/port")/imbllm"; }

case $cmd in
start)
  mkdir -p "$dir"
  [ -f "$dir/port" ] || echo "${3:-${IMBLLM_PG_PORT:-55432}}" > "$dir/port"
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$dir/data" -U imbllm -A trust -E UTF8 >"$dir/initdb.log"
  fi
  if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    # fsync off: a test and single-machine store; the socket lives in our folder, not /run.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $(cat "$dir/port") -k $dir -c fsync=off \
          -c max_connections=200" >/dev/null
  fi
  psql "postgresql://imbllm@127.0.0.1:$(cat "$dir/port")/postgres" -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'imbllm'" | grep -q 1 \
    || psql "postgresql://imbllm@127.0.0.1:$(cat "$dir/port")/postgres" -qc "CREATE DATABASE imbllm"
  url ;;
stop)
  if [ -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi ;;
url) url ;;
*) echo "postgres.sh: unknown command $cmd (start|stop|url)" >&2; exit 2 ;;
esac
