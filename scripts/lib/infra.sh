#!/usr/bin/env bash
# Shared by up.sh, down.sh and test.sh: install and start what Boxes needs on one Debian machine.
# Everything is idempotent: a second call finds things running and returns at once.

REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
RUN="$REPO/.run"
PG_BIN="/usr/lib/postgresql/15/bin"
PG_DATA="$RUN/pg"
PG_PORT="${BOXES_PG_PORT:-5432}"
RABBIT_BASE="$RUN/rabbitmq"
export RABBITMQ_NODENAME="boxes@localhost"
mkdir -p "$RUN/logs" "$RUN/pids"

log() { printf '[boxes] %s\n' "$*" >&2; }

# wait_for DESCRIPTION SECONDS COMMAND...: poll a condition with a deadline instead of sleeping blindly.
wait_for() {
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "timed out after ${seconds}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

ensure_packages() {
  local missing=()
  [ -x "$PG_BIN/postgres" ] || missing+=(postgresql)
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v bwrap >/dev/null || missing+=(bubblewrap)
  command -v curl >/dev/null || missing+=(curl)
  command -v node >/dev/null || missing+=(nodejs npm)
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian starts services on install where it can; we run our own instances under .run/.
  pkill -f "beam.smp.*rabbit@" 2>/dev/null || true
}

start_postgres() {
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    log "PostgreSQL already answers on 127.0.0.1:$PG_PORT"
  else
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
      log "initialising PostgreSQL in $PG_DATA"
      mkdir -p "$PG_DATA" && chown postgres:postgres "$PG_DATA" && chmod 700 "$PG_DATA"
      su postgres -s /bin/sh -c "$PG_BIN/initdb -D '$PG_DATA' -A trust -U postgres" >"$RUN/logs/initdb.log"
    fi
    chown -R postgres:postgres "$PG_DATA"
    # PostgreSQL refuses to run as root; it runs as the postgres user, on loopback only.
    su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$PG_DATA' -l '$PG_DATA/server.log' -w -t 60 \
      -o '-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c max_connections=400 -c unix_socket_directories=/tmp -c fsync=off -c synchronous_commit=off' start" >/dev/null
    wait_for "PostgreSQL" 60 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
  fi
  psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'boxes') THEN
    CREATE ROLE boxes LOGIN SUPERUSER PASSWORD 'boxes';
  END IF;
END$$;
SQL
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'boxes'" | grep -q 1 ||
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE boxes OWNER boxes" >/dev/null
}

rabbit_env() {
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_MNESIA_BASE="$RABBIT_BASE/mnesia"
  export RABBITMQ_LOG_BASE="$RABBIT_BASE/log"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_BASE/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$RABBIT_BASE/rabbitmq"
}

rabbit_up() { curl -fsS -o /dev/null -u boxes:boxes http://127.0.0.1:15672/api/overview; }

start_rabbitmq() {
  rabbit_env
  if rabbit_up; then
    log "RabbitMQ already answers on 127.0.0.1:5672"
    return 0
  fi
  mkdir -p "$RABBIT_BASE"
  printf 'listeners.tcp.default = 127.0.0.1:5672\nmanagement.tcp.ip = 127.0.0.1\nmanagement.tcp.port = 15672\n' >"$RABBIT_BASE/rabbitmq.conf"
  # Debian's wrappers re-run rabbitmq-server and rabbitmqctl as the rabbitmq user (which also holds the
  # Erlang cookie), so its folders must belong to that user.
  chown -R rabbitmq:rabbitmq "$RABBIT_BASE"
  rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
  chown -R rabbitmq:rabbitmq "$RABBIT_BASE"
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    log "starting RabbitMQ"
    setsid nohup rabbitmq-server >"$RUN/logs/rabbitmq.log" 2>&1 < /dev/null &
  fi
  wait_for "RabbitMQ node" 90 rabbitmqctl -q await_startup --timeout 5
  rabbitmqctl -q list_users | grep -q '^boxes' || rabbitmqctl -q add_user boxes boxes >/dev/null
  rabbitmqctl -q set_user_tags boxes administrator >/dev/null
  rabbitmqctl -q list_vhosts | grep -qx boxes || rabbitmqctl -q add_vhost boxes >/dev/null
  rabbitmqctl -q set_permissions -p boxes boxes '.*' '.*' '.*' >/dev/null
  rabbitmqctl -q set_permissions -p / boxes '.*' '.*' '.*' >/dev/null
  wait_for "RabbitMQ management API" 60 rabbit_up
}

stop_rabbitmq() {
  rabbit_env
  rabbitmqctl -q stop >/dev/null 2>&1 || true
}

stop_postgres() {
  [ -f "$PG_DATA/postmaster.pid" ] && su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$PG_DATA' -m fast stop" >/dev/null 2>&1 || true
}
