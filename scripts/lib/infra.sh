#!/usr/bin/env bash
# Sourced by up.sh, down.sh and test.sh: installs and starts what Boxes needs on one Debian machine
# (run as root). Every function is idempotent: a second call finds things installed or running and
# returns quickly. Servers listen on 127.0.0.1 only.

# Always from this file's location: a REPO left in the caller's environment must not redirect us.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="$REPO/.run"
PG_BIN=/usr/lib/postgresql/15/bin
# The ports can be moved (e.g. a second copy of the repo next to a running one); defaults are the conventions.
PG_PORT="${BOXES_PG_PORT:-5432}"
AMQP_PORT="${BOXES_AMQP_PORT:-5672}"
MGMT_PORT="${BOXES_RABBITMQ_MANAGEMENT_PORT:-15672}"
mkdir -p "$RUN/logs" "$RUN/pids"
# rabbitmq-server, rabbitmqctl and runuser live in sbin, which a minimal PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

log() { printf '[boxes] %s\n' "$*" >&2; }

# wait_for DESCRIPTION SECONDS COMMAND...: poll a condition until a deadline instead of sleeping blindly.
wait_for() {
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then log "timed out after ${seconds}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# as_user USER COMMAND...: PostgreSQL and RabbitMQ refuse to run as root. From / so that a private
# working directory (e.g. /root) does not make their tools complain.
as_user() { (cd / && runuser -u "$1" -- "${@:2}"); }

# daemon_dir USER NAME: a data folder USER owns, normally .run/NAME. A clone under a private folder
# (/root/..., mode 700) cannot be reached by the postgres and rabbitmq users: then the data lives in
# /var/lib/boxes/<hash of the repo path>/NAME and .run/NAME is a link to it, for people to find it.
daemon_dir() {
  local user="$1" name="$2" dir
  if [ -L "$RUN/$name" ]; then
    dir="$(readlink -f "$RUN/$name")"
  elif [ -d "$RUN/$name" ] || as_user "$user" test -x "$RUN" 2>/dev/null; then
    dir="$RUN/$name"
  else
    dir="/var/lib/boxes/$(printf %s "$REPO" | md5sum | cut -c1-12)/$name"
    mkdir -p "$dir" && ln -sfn "$dir" "$RUN/$name"
  fi
  mkdir -p "$dir" && chown -R "$user:" "$dir"
  printf '%s\n' "$dir"
}

# ensure_packages: apt-get only when something is missing (a fresh CI machine has PostgreSQL 15 but not
# RabbitMQ, Chromium or bubblewrap); no apt at all when everything is there.
ensure_packages() {
  local missing=() tool
  [ -x "$PG_BIN/postgres" ] || missing+=(postgresql-15)
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v bwrap >/dev/null || missing+=(bubblewrap)
  # Sandboxes with network access: a user-mode network stack, and ip/nsenter to fence it.
  command -v slirp4netns >/dev/null || missing+=(slirp4netns)
  [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || missing+=(iproute2)
  # The sandbox agent is a small C program built with the worker.
  command -v gcc >/dev/null || missing+=(gcc libc6-dev)
  # Without a font, pages render text as boxes in screenshots.
  [ -d /usr/share/fonts/truetype/liberation ] || missing+=(fonts-liberation)
  for tool in curl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  command -v node >/dev/null || missing+=(nodejs npm)
  ((${#missing[@]} == 0)) && return 0

  log "installing ${missing[*]}"
  # Debian starts a package's service on install where it can (a broker on 0.0.0.0:5672, a PostgreSQL
  # "main" cluster); we run our own instances under .run/, so forbid that for the install's duration.
  local policy=/usr/sbin/policy-rc.d added="" rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  } || rc=$?
  [ -z "$added" ] || rm -f "$policy"
  return "$rc"
}

# ensure_bun: the bun runtime for sandboxes, from the npm package "bun" (pinned), in .run/runtimes. Prints the binary's path.
BUN_VERSION=1.4.5
ensure_bun() {
  local dir="$RUN/runtimes/bun-$BUN_VERSION" bin
  # The package's postinstall moves the platform binary to bun/bin/bun.exe; without install scripts it
  # stays in the platform package.
  for bin in "$dir/node_modules/bun/bin/bun.exe" "$dir/node_modules/@oven/bun-linux-x64/bin/bun"; do
    [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1 && { printf '%s\n' "$bin"; return 0; }
  done
  log "installing bun $BUN_VERSION (npm package bun) in $dir"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "bun@$BUN_VERSION" >/dev/null
  for bin in "$dir/node_modules/bun/bin/bun.exe" "$dir/node_modules/@oven/bun-linux-x64/bin/bun"; do
    [ -f "$bin" ] && chmod +x "$bin" && "$bin" --version >/dev/null 2>&1 && { printf '%s\n' "$bin"; return 0; }
  done
  log "bun $BUN_VERSION did not install"
  return 1
}

# start_postgres: our own cluster in .run/pg on 127.0.0.1:$PG_PORT, or whatever already answers there.
# Then role boxes/boxes (superuser: the tests create a database each) and database boxes.
start_postgres() {
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    log "PostgreSQL answers on 127.0.0.1:$PG_PORT"
  else
    local data; data="$(daemon_dir postgres pg)"
    chmod 700 "$data"
    if [ ! -s "$data/PG_VERSION" ]; then
      log "initialising PostgreSQL in $data"
      # trust: a disposable development database that listens on loopback only.
      as_user postgres "$PG_BIN/initdb" -D "$data" -A trust -U postgres -E UTF8 >"$RUN/logs/initdb.log"
    fi
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # fsync off: test and development data, speed over durability. Sockets in /tmp: the Debian
    # default folder (/var/run/postgresql) may not exist on a machine that never ran Debian's cluster.
    as_user postgres "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start -o \
      "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=/tmp -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      >/dev/null || { tail -n 20 "$data/server.log" >&2; return 1; }
    wait_for "PostgreSQL" 60 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
  fi

  PGPASSWORD=boxes "$PG_BIN/psql" -X -h 127.0.0.1 -p "$PG_PORT" -U boxes -d boxes -tAc 'SELECT 1' >/dev/null 2>&1 && return 0
  log "creating PostgreSQL role and database boxes"
  # Our cluster trusts loopback; a server we merely reuse (Debian's own, say) lets its postgres user in
  # over its socket instead.
  local admin=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres)
  "${admin[@]}" -c 'SELECT 1' >/dev/null 2>&1 ||
    admin=(as_user postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres)
  "${admin[@]}" >/dev/null <<'SQL'
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'boxes') THEN CREATE ROLE boxes; END IF;
END$$;
ALTER ROLE boxes WITH LOGIN SUPERUSER PASSWORD 'boxes';
SELECT 'CREATE DATABASE boxes OWNER boxes' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'boxes')\gexec
SQL
}

stop_postgres() {
  [ -e "$RUN/pg" ] || return 0
  local data; data="$(readlink -f "$RUN/pg")"
  [ -f "$data/postmaster.pid" ] || return 0
  log "stopping PostgreSQL"
  as_user postgres "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null || true
}

# rabbit_env: the environment that both rabbitmq-server and rabbitmqctl must see to mean the same node.
# Debian's /usr/sbin wrappers re-run both as the rabbitmq user through `su`, which keeps RABBITMQ_* and
# ERL_* variables but sets HOME=/var/lib/rabbitmq: so the Erlang cookie is always rabbitmq's
# /var/lib/rabbitmq/.erlang.cookie, for the server and for every rabbitmqctl call, whatever root's HOME
# is. Do not call /usr/lib/rabbitmq/bin/* directly as root: that would use root's own cookie and the
# CLI could not talk to the node.
rabbit_env() {
  RABBIT_DIR="$(daemon_dir rabbitmq rabbitmq)"
  # One node name per AMQP port, so a second copy on other ports is a different node.
  if [ "$AMQP_PORT" = 5672 ]; then export RABBITMQ_NODENAME=boxes@localhost; else export RABBITMQ_NODENAME="boxes-$AMQP_PORT@localhost"; fi
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT"
  export RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" RABBITMQ_LOG_BASE="$RABBIT_DIR/log"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins"
  export RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq.conf"
  # Erlang's port mapper and the node's and CLI's distribution ports default to all interfaces.
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# rabbit_ready: HTTP calls instead of slow rabbitmqctl runs (each boots an Erlang VM, seconds on a busy
# machine): management is up, user boxes authenticates and has its permissions on vhosts boxes and /.
rabbit_api() { curl -fs -o /dev/null -u boxes:boxes "$@"; }
rabbit_ready() {
  rabbit_api "http://127.0.0.1:$MGMT_PORT/api/permissions/boxes/boxes" &&
    rabbit_api "http://127.0.0.1:$MGMT_PORT/api/permissions/%2F/boxes"
}
# rabbit_node_pid: the pid of our node if it runs (the server writes its pid file as it boots).
rabbit_node_pid() {
  local pid
  pid="$(cat "$RABBITMQ_MNESIA_BASE/$RABBITMQ_NODENAME.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

start_rabbitmq() {
  if rabbit_ready; then log "RabbitMQ answers on 127.0.0.1:$AMQP_PORT"; return 0; fi
  rabbit_env
  local server_pid="" code deadline
  if ! rabbit_node_pid >/dev/null; then
    if listening "$AMQP_PORT"; then
      log "something else listens on 127.0.0.1:$AMQP_PORT without user boxes/boxes; stop it or set BOXES_AMQP_PORT"
      return 1
    fi
    # default_*: on its first boot (empty database) the node creates user boxes and vhost boxes itself,
    # instead of guest/guest and "/".
    printf '%s\n' "listeners.tcp.default = 127.0.0.1:$AMQP_PORT" \
      "management.tcp.ip = 127.0.0.1" "management.tcp.port = $MGMT_PORT" \
      "default_user = boxes" "default_pass = boxes" "default_vhost = boxes" \
      "default_user_tags.administrator = true" "default_permissions.configure = .*" \
      "default_permissions.read = .*" "default_permissions.write = .*" >"$RABBIT_DIR/rabbitmq.conf"
    grep -qs rabbitmq_management "$RABBITMQ_ENABLED_PLUGINS_FILE" ||
      rabbitmq-plugins enable --offline rabbitmq_management >/dev/null
    # rabbitmq-plugins runs as root: give its files back to the rabbitmq user.
    chown -R rabbitmq: "$RABBIT_DIR"
    log "starting RabbitMQ ($RABBITMQ_NODENAME) on 127.0.0.1:$AMQP_PORT, management on 127.0.0.1:$MGMT_PORT"
    setsid nohup rabbitmq-server >"$RUN/logs/rabbitmq.log" 2>&1 </dev/null &
    server_pid=$!
  fi
  # The management listener opens at the end of the boot: poll it (a first boot takes a minute on a
  # busy machine); give up early if the server process died.
  deadline=$((SECONDS + 180))
  while code="$(curl -s -o /dev/null -w '%{http_code}' -u boxes:boxes "http://127.0.0.1:$MGMT_PORT/api/whoami")"; [ "$code" = 000 ]; do
    if [ -n "$server_pid" ] && ! kill -0 "$server_pid" 2>/dev/null; then
      log "RabbitMQ exited during startup:"; tail -n 30 "$RUN/logs/rabbitmq.log" >&2; return 1
    fi
    if ((SECONDS >= deadline)); then log "timed out waiting for RabbitMQ"; tail -n 30 "$RUN/logs/rabbitmq.log" >&2; return 1; fi
    sleep 0.5
  done
  rabbitmqctl -q await_startup --timeout 60 >/dev/null
  if [ "$code" = 401 ]; then
    # A node whose database predates default_user (or where boxes was deleted): the slow way, once.
    log "creating RabbitMQ user boxes"
    rabbitmqctl -q add_user boxes boxes >/dev/null 2>&1 || rabbitmqctl -q change_password boxes boxes >/dev/null
    rabbitmqctl -q set_user_tags boxes administrator >/dev/null
  fi
  # Idempotent PUTs: vhost boxes for the services, "/" for the tests (they make their own vhosts too).
  local api="http://127.0.0.1:$MGMT_PORT/api" vhost
  for vhost in boxes %2F; do
    rabbit_api -X PUT "$api/vhosts/$vhost"
    rabbit_api -X PUT -H 'content-type: application/json' \
      -d '{"configure":".*","write":".*","read":".*"}' "$api/permissions/$vhost/boxes"
  done
  rabbit_ready || { log "RabbitMQ is up but user boxes lacks its permissions"; return 1; }
}

stop_rabbitmq() {
  rabbit_env
  rabbit_node_pid >/dev/null || return 0
  log "stopping RabbitMQ"
  # With the pid file, stop returns only once the Erlang VM has exited.
  rabbitmqctl -q stop "$RABBITMQ_MNESIA_BASE/$RABBITMQ_NODENAME.pid" >/dev/null 2>&1 || true
}

# --- the six services (up.sh starts them, down.sh stops them) -------------------------------------
# Ports 8080-8085 in this order (BOXES_SERVICE_PORT_BASE moves them all, as the ports above).
SERVICES=(api scheduler worker billing webhooks artifacts)
# shellcheck disable=SC2034 # used by up.sh and down.sh
declare -A SERVICE_PORTS=()
# shellcheck disable=SC2034
for _i in "${!SERVICES[@]}"; do SERVICE_PORTS[${SERVICES[$_i]}]=$((${BOXES_SERVICE_PORT_BASE:-8080} + _i)); done
unset _i

service_dll() { printf '%s\n' "$REPO/services/$1/bin/Release/net10.0/Boxes.${1^}.dll"; }

# service_pid NAME: the pid in .run/pids/NAME.pid if that process is alive and still runs our dll (a
# recycled pid after a reboot is not ours).
service_pid() {
  local pidfile="$RUN/pids/$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && grep -qaF "$(service_dll "$1")" "/proc/$pid/cmdline" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

# descendants PID: every process below PID. Collected before PID stops, because orphans are re-parented.
descendants() {
  local kid
  for kid in $(ps -o pid= --ppid "$1" 2>/dev/null); do printf '%s\n' "$kid"; descendants "$kid"; done
}

# stop_service NAME: TERM to the service's process group (each service leads one: started with setsid),
# then whatever is left of its process tree. Chromium leads its own group (the worker starts it with
# setsid) so the group signal does not reach it; the worker stops its browsers on TERM, and what it
# leaves behind is stopped here.
stop_service() {
  local name="$1" pid tree p
  if pid="$(service_pid "$name")"; then
    log "stopping $name"
    tree="$(descendants "$pid")"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    wait_for "$name to stop" 20 not_running "$pid" || kill -KILL -- "-$pid" 2>/dev/null || true
    for p in $tree; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
    # shellcheck disable=SC2086
    [ -z "$tree" ] || wait_for "what $name started to stop" 5 not_running $tree ||
      for p in $tree; do kill -KILL "$p" 2>/dev/null || true; done
  fi
  rm -f "$RUN/pids/$name.pid"
}
not_running() { local p; for p; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
