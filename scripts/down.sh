#!/usr/bin/env bash
# Stops the services up.sh started (and their Chromium children). --all also stops RabbitMQ and PostgreSQL.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
source "$REPO/scripts/lib/infra.sh"

for pidfile in "$RUN"/pids/*.pid; do
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    # The whole process group: the service and whatever it spawned.
    kill -TERM -- -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    wait_for "$(basename "$pidfile" .pid) to stop" 20 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL -- -"$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
done
# Chromium started by the worker lives in the worker's group, but a crash can orphan it.
pkill -f -- "--user-data-dir=$RUN/worker/" 2>/dev/null || true
if [ "${1:-}" = "--all" ]; then
  stop_rabbitmq
  stop_postgres
fi
log "stopped"
