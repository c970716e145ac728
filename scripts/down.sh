#!/usr/bin/env bash
# Stops the services up.sh started (pid files in .run/pids) with everything they spawned, Chromium
# included. --all also stops the RabbitMQ node and the PostgreSQL cluster that infra.sh started (a
# server it merely reused is left alone).
#   scripts/down.sh [--all]
set -euo pipefail
# shellcheck source=lib/infra.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/infra.sh"

# All at once: each takes a second or two to shut down gracefully.
for pidfile in "$RUN"/pids/*.pid; do
  [ -f "$pidfile" ] || continue
  stop_service "$(basename "$pidfile" .pid)" &
done
wait
# Browsers orphaned by a worker that crashed or was killed earlier still point at our data folder.
pkill -KILL -f -- "--user-data-dir=$RUN/worker/" 2>/dev/null || true

if [ "${1:-}" = "--all" ]; then
  stop_rabbitmq
  stop_postgres
fi
log "stopped"
