#!/usr/bin/env bash
# Starts Boxes on this machine: installs what is missing, starts PostgreSQL and RabbitMQ, builds, starts
# every service in the background (logs in .run/logs), waits until the API is ready, creates the
# development organisation once, and writes .run/env. Safe to run again: what runs keeps running.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
source "$REPO/scripts/lib/infra.sh"

ensure_packages
start_postgres
start_rabbitmq

# Secrets are made once and kept: the operator key and the key that signs CDP tokens.
if [ ! -f "$RUN/secrets.env" ]; then
  umask 077
  {
    echo "BOXES_ADMIN_KEY=br_admin_$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)"
    echo "BOXES_TOKEN_SIGNING_KEY=$(head -c 48 /dev/urandom | base64 -w0)"
  } >"$RUN/secrets.env"
fi
source "$RUN/secrets.env"

log "building"
dotnet build "$REPO/Platform.sln" -c Release -nologo -v q -clp:ErrorsOnly >"$RUN/logs/build.log" 2>&1 || { cat "$RUN/logs/build.log"; exit 1; }

export ConnectionStrings__Boxes="Host=127.0.0.1;Port=$PG_PORT;Username=boxes;Password=boxes;Database=boxes;Maximum Pool Size=50"
export ConnectionStrings__RabbitMq="amqp://boxes:boxes@127.0.0.1:5672/boxes"
export Boxes__AdminKey="$BOXES_ADMIN_KEY"
export Boxes__TokenSigningKey="$BOXES_TOKEN_SIGNING_KEY"
export Boxes__PublicUrl="http://127.0.0.1:8080"
export Worker__Id="${BOXES_WORKER_ID:-worker-1}"
export Worker__Address="http://127.0.0.1:8082"
export Worker__DataDir="$RUN/worker"
export Worker__ChromiumPath="$(command -v chromium)"
# Pre-launched browsers: size it to the burst of creates you expect (a launch costs ~1.3 CPU-seconds).
export Worker__PoolSize="${BOXES_WORKER_POOL_SIZE:-4}"
export DOTNET_gcServer=0

declare -A PORTS=([api]=8080 [scheduler]=8081 [worker]=8082 [billing]=8083 [webhooks]=8084 [artifacts]=8085)
start_service() {
  local name="$1" port="${PORTS[$1]}"
  local dll="$REPO/services/$name/bin/Release/net10.0/Boxes.${name^}.dll"
  local pidfile="$RUN/pids/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    # Restart only when the build is newer than the running process.
    if [ "$dll" -nt "$pidfile" ]; then
      log "restarting $name (rebuilt)"
      kill -- -"$(cat "$pidfile")" 2>/dev/null || kill "$(cat "$pidfile")" 2>/dev/null || true
      wait_for "$name to stop" 20 bash -c "! kill -0 $(cat "$pidfile") 2>/dev/null"
    else
      return 0
    fi
  fi
  log "starting $name on 127.0.0.1:$port"
  # setsid: each service leads its own process group, so down.sh can stop it with its children (Chromium).
  setsid nohup dotnet "$dll" --urls "http://127.0.0.1:$port" >"$RUN/logs/$name.log" 2>&1 < /dev/null &
  echo $! >"$pidfile"
}
for name in api scheduler worker billing webhooks artifacts; do start_service "$name"; done

ready() { curl -fsS -o /dev/null http://127.0.0.1:8080/readyz; }
if ! wait_for "the API to be ready (/readyz)" 90 ready; then
  for name in api scheduler worker; do echo "--- $name"; tail -n 20 "$RUN/logs/$name.log"; done
  exit 1
fi
for name in scheduler worker billing webhooks artifacts; do
  wait_for "$name /healthz" 60 curl -fsS -o /dev/null "http://127.0.0.1:${PORTS[$name]}/healthz" || { tail -n 30 "$RUN/logs/$name.log"; exit 1; }
done

# The development organisation: created once, its key reused for as long as it authenticates.
api_key=""
if [ -f "$RUN/dev-org.json" ]; then
  api_key="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiKey"])' "$RUN/dev-org.json")"
  curl -fsS -o /dev/null -H "Authorization: Bearer $api_key" http://127.0.0.1:8080/v1/browsers?limit=1 || api_key=""
fi
if [ -z "$api_key" ]; then
  curl -fsS -X POST http://127.0.0.1:8080/v1/admin/organizations -H "Authorization: Bearer $BOXES_ADMIN_KEY" \
    -H 'Content-Type: application/json' -d '{"name":"development","plan":"pro"}' >"$RUN/dev-org.json"
  api_key="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiKey"])' "$RUN/dev-org.json")"
fi
cat >"$RUN/env" <<ENV
BOXES_API_URL=http://127.0.0.1:8080
BOXES_API_KEY=$api_key
BOXES_ADMIN_KEY=$BOXES_ADMIN_KEY
ENV
log "ready: source .run/env (API at http://127.0.0.1:8080)"
