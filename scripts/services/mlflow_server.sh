#!/usr/bin/env bash
# `mlflow server` on loopback with the PostgreSQL of postgres.sh as backend store and a shared
# artifact root, started in the background (pid file, log). Idempotent.
#   scripts/services/mlflow_server.sh start [DIR] [PORT]   # prints the tracking URI
#   scripts/services/mlflow_server.sh stop  [DIR]
# PYTHON picks the interpreter that has mlflow (default: .venv/bin/python, else python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: mlflow_server.sh start|stop [DIR] [PORT]}
root=$(realpath -m "${2:-${IMBLLM_SERVICES_DIR:-/tmp/imbllm-services}}")
dir=$root/mlflow
py=${PYTHON:-$( [ -x "$here/../../.venv/bin/python" ] && echo "$here/../../.venv/bin/python" || echo python3)}

health() { "$py" -c "import sys, urllib.request as u; u.urlopen(sys.argv[1] + '/health', timeout=2)" \
  "http://127.0.0.1:$(cat "$dir/port")" >/dev/null 2>&1; }

case $cmd in
start)
  mkdir -p "$dir/artifacts"
  [ -f "$dir/port" ] || echo "${3:-${IMBLLM_MLFLOW_PORT:-5055}}" > "$dir/port"
  db=$("$here/postgres.sh" start "$root")
  if ! health; then
    # The server migrates its backend store once, here, before any worker connects.
    setsid "$py" -m mlflow server --backend-store-uri "$db" --artifacts-destination "$dir/artifacts" \
      --host 127.0.0.1 --port "$(cat "$dir/port")" --workers 2 >"$dir/server.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 120); do health && break; sleep 0.5; done
    health || { tail -20 "$dir/server.log" >&2; echo "mlflow_server.sh: no answer; log above" >&2; exit 1; }
  fi
  echo "http://127.0.0.1:$(cat "$dir/port")" ;;
stop)
  # The server's process group (setsid): its uvicorn workers go with it. Shutdown takes ~15 s;
  # after 30 s the group is killed.
  if [ -f "$dir/pid" ]; then
    pgid=$(cat "$dir/pid")
    kill -- -"$pgid" 2>/dev/null || true
    for _ in $(seq 60); do ps -o stat= -g "$pgid" | grep -qv Z || break; sleep 0.5; done
    kill -9 -- -"$pgid" 2>/dev/null || true
    rm -f "$dir/pid"
  fi ;;
*) echo "mlflow_server.sh: unknown command $cmd (start|stop)" >&2; exit 2 ;;
esac
