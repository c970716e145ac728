#!/usr/bin/env bash
# Starts Boxes on this machine: installs what is missing, starts PostgreSQL and RabbitMQ, builds, starts
# the six services in the background (logs in .run/logs, pids in .run/pids), waits until the API is
# ready, creates the development organisation once and writes .run/env. Safe to run again: what runs
# keeps running, and a service whose build is newer than its process is restarted.
#   scripts/up.sh [--no-build]      (--no-build: the caller has just built, e.g. test.sh)
set -euo pipefail
# shellcheck source=lib/infra.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/infra.sh"
cd "$REPO"
API="http://127.0.0.1:${SERVICE_PORTS[api]}"

ensure_packages
start_postgres
start_rabbitmq

# Secrets are made once and kept, so keys and signed tokens survive restarts: the operator key, the key
# that signs CDP/terminal tokens and download URLs, and the key services present to each other's internal
# routes. A secret missing from an older file is added; the others are kept.
add_secret() {
  grep -qs "^$1=" "$RUN/secrets.env" && return 0
  (umask 077 && printf '%s=%s\n' "$1" "$2" >>"$RUN/secrets.env")
}
add_secret BOXES_ADMIN_KEY "br_admin_$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
add_secret BOXES_TOKEN_SIGNING_KEY "$(head -c 48 /dev/urandom | base64 -w0)"
add_secret BOXES_INTERNAL_KEY "$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
# shellcheck source=/dev/null
source "$RUN/secrets.env"
BUN_PATH="$(ensure_bun)"

if [ "${1:-}" != "--no-build" ]; then
  log "building"
  dotnet build Platform.sln -c Release -nologo -v q -clp:ErrorsOnly >"$RUN/logs/build.log" 2>&1 ||
    { cat "$RUN/logs/build.log" >&2; exit 1; }
fi

# Pool size 50: six services at Npgsql's default 100 could ask for more than max_connections (400).
export ConnectionStrings__Boxes="Host=127.0.0.1;Port=$PG_PORT;Username=boxes;Password=boxes;Database=boxes;Maximum Pool Size=50"
export ConnectionStrings__RabbitMq="amqp://boxes:boxes@127.0.0.1:$AMQP_PORT/boxes"
export Boxes__AdminKey="$BOXES_ADMIN_KEY"
export Boxes__TokenSigningKey="$BOXES_TOKEN_SIGNING_KEY"
export Boxes__PublicUrl="$API"
export Boxes__InternalKey="$BOXES_INTERNAL_KEY"
export Artifacts__Address="http://127.0.0.1:${SERVICE_PORTS[artifacts]}"
export Webhooks__Address="http://127.0.0.1:${SERVICE_PORTS[webhooks]}"
export Billing__Address="http://127.0.0.1:${SERVICE_PORTS[billing]}"
# The SSRF guard refuses loopback and private addresses; the development setup lets 127.0.0.1 through so that
# a receiver on this machine (the end-to-end tests', yours) can get deliveries. Leave it out in production.
export Webhooks__AllowedHosts="${BOXES_WEBHOOKS_ALLOWED_HOSTS:-127.0.0.1/32}"
export Artifacts__DataDir="$RUN/artifacts"
export Worker__Id="${BOXES_WORKER_ID:-worker-1}"
export Worker__Address="http://127.0.0.1:${SERVICE_PORTS[worker]}"
export Worker__DataDir="$RUN/worker"
Worker__ChromiumPath="$(command -v chromium)"
export Worker__ChromiumPath
# Pre-launched browsers: size it to the burst of creates you expect (a launch costs ~1.3 CPU-seconds).
export Worker__PoolSize="${BOXES_WORKER_POOL_SIZE:-4}"
# Slots: a light browser takes 1, a sandbox 2. Room for a burst of 50 sandboxes (the pro plan's limit).
export Worker__Capacity="${BOXES_WORKER_CAPACITY:-128}"
# Started sandboxes kept ready (one costs ~2 MB and no CPU while idle; starting one takes ~50 ms).
export Sandbox__PoolSize="${BOXES_SANDBOX_POOL_SIZE:-8}"
export Sandbox__BunPath="$BUN_PATH"
export Sandbox__DataDir="$RUN/worker/sandbox"
# Six processes on a small machine: workstation GC keeps each one's memory and threads modest.
export DOTNET_gcServer=0
mkdir -p "$Worker__DataDir"

start_service() {
  local name="$1" port="${SERVICE_PORTS[$1]}" dll holder
  dll="$(service_dll "$name")"
  [ -f "$dll" ] || { log "$dll is missing: build first (dotnet build Platform.sln -c Release)"; return 1; }
  if service_pid "$name" >/dev/null; then
    # A rebuild changes files next to the dll (its own or a referenced project's), and new secrets
    # change its configuration: restart on either, else leave it running.
    if [ -z "$(find "$(dirname "$dll")" "$RUN/secrets.env" -maxdepth 1 -type f -newer "$RUN/pids/$name.pid" -print -quit)" ]; then
      return 0
    fi
    log "restarting $name (rebuilt or new secrets)"
    stop_service "$name"
  fi
  # A port taken by someone else (another checkout's services, say) would make our process fail while
  # the other one answers our health checks: refuse clearly instead.
  if listening "$port"; then
    holder="$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 || true)"
    log "127.0.0.1:$port is already in use (${holder:-unknown process}); stop it first"
    return 1
  fi
  log "starting $name on 127.0.0.1:$port"
  # setsid: the service leads its own process group, so down.sh stops it with what it spawned.
  setsid nohup dotnet "$dll" --urls "http://127.0.0.1:$port" >"$RUN/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/pids/$name.pid"
}
for name in "${SERVICES[@]}"; do start_service "$name"; done

# all_up: every service's /healthz, and the API's /readyz (database, broker, a heartbeating worker).
# A service that exits fails the wait at once instead of at the deadline.
all_up() {
  local name
  for name in "${SERVICES[@]}"; do
    service_pid "$name" >/dev/null || { log "$name exited"; return 2; }
    curl -fs -o /dev/null "http://127.0.0.1:${SERVICE_PORTS[$name]}/healthz" || return 1
  done
  curl -fs -o /dev/null "$API/readyz"
}
deadline=$((SECONDS + ${BOXES_READY_TIMEOUT:-60}))
until all_up; do
  status=$?
  if ((status == 2 || SECONDS >= deadline)); then
    ((status == 2)) || log "not ready after ${BOXES_READY_TIMEOUT:-60}s ($API/readyz: $(curl -s "$API/readyz" || echo 'no answer'))"
    for name in "${SERVICES[@]}"; do printf -- '--- %s (.run/logs/%s.log)\n' "$name" "$name" >&2; tail -n 15 "$RUN/logs/$name.log" >&2; done
    exit 1
  fi
  sleep 0.3
done

# The development organisation: created once; its key is reused for as long as it authenticates
# (a reset database forgets it, and then a new one is made).
api_key=""
if [ -s "$RUN/dev-org.json" ]; then
  api_key="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("apiKey", ""))' "$RUN/dev-org.json" 2>/dev/null || true)"
  if [ -n "$api_key" ]; then
    code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $api_key" "$API/v1/browsers?limit=1")"
    case "$code" in
      2??) ;;
      401 | 403) log "the saved development key no longer authenticates: creating the organisation again"; api_key="" ;;
      *) log "could not check the saved development key (HTTP $code): keeping it" ;;
    esac
  fi
fi
if [ -z "$api_key" ]; then
  log "creating the development organisation"
  curl -fsS -X POST "$API/v1/admin/organizations" -H "Authorization: Bearer $BOXES_ADMIN_KEY" \
    -H 'Content-Type: application/json' -d '{"name":"development","plan":"pro"}' -o "$RUN/dev-org.json.tmp"
  api_key="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiKey"])' "$RUN/dev-org.json.tmp")"
  mv "$RUN/dev-org.json.tmp" "$RUN/dev-org.json"
  chmod 600 "$RUN/dev-org.json"
fi

(
  umask 077
  printf 'BOXES_API_URL=%s\nBOXES_API_KEY=%s\nBOXES_ADMIN_KEY=%s\n' "$API" "$api_key" "$BOXES_ADMIN_KEY" >"$RUN/env.tmp"
)
mv "$RUN/env.tmp" "$RUN/env"
log "ready: $API (keys in .run/env: set -a; source .run/env; set +a)"
