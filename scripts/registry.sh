#!/usr/bin/env bash
# registry.sh - a throw-away local registry (distribution 2.8) for tests.
#
#   registry.sh start [PORT]    (default 5001) run on 127.0.0.1:PORT, plain HTTP
#   registry.sh stop  [PORT]    stop it and delete its storage
#   registry.sh status [PORT]   exit 0 when it answers
#
# Storage, config and pid file: /var/lib/slipway-registry/PORT (wiped by start
# when not running, and by stop). Log: /var/log/slipway-registry-PORT.log.
# Idempotent: start on a running registry only checks it.
#
# dockerd treats 127.0.0.0/8 as insecure, so `docker push localhost:PORT/...`
# and `127.0.0.1:PORT/...` use plain HTTP with no daemon config.
# Installed by scripts/setup.sh (scripts/lib/setup-registry.sh).
set -euo pipefail

STATE_ROOT=${SLIPWAY_REGISTRY_ROOT:-/var/lib/slipway-registry}
REGISTRY_BIN=${SLIPWAY_REGISTRY_BIN:-/usr/bin/docker-registry}
READY_TIMEOUT=${SLIPWAY_REGISTRY_READY_TIMEOUT:-30}

usage() { sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

answers() { curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$1/v2/" 2>/dev/null; }

alive() { readlink "/proc/$1/exe" >/dev/null 2>&1; } # false for zombies too

# running_pid PORT: print the pid of our registry on PORT if it is alive.
running_pid() {
  local pf="$STATE_ROOT/$1/registry.pid" pid
  [[ -f "$pf" ]] || return 1
  pid=$(cat "$pf" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # (a zombie has no exe link: nothing here may reap our daemons)
  local exe; exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  # " (deleted)": the binary was replaced (rebuilt/upgraded) while running
  [[ "${exe% (deleted)}" == "$(readlink -f "$REGISTRY_BIN")" ]] || return 1
  printf '%s\n' "$pid"
}

lock() { # PORT: serialise start/stop of one port
  mkdir -p /var/lock
  exec 8>"/var/lock/slipway-registry-$1.lock"
  flock -w 300 8 || { echo "error: /var/lock/slipway-registry-$1.lock held for 5 minutes" >&2; exit 1; }
}

start() {
  local port=$1 dir="$STATE_ROOT/$1" log="/var/log/slipway-registry-$1.log"
  [[ -x "$REGISTRY_BIN" ]] || die "$REGISTRY_BIN not found (run scripts/setup.sh)"
  lock "$port"
  if running_pid "$port" >/dev/null; then
    answers "$port" || die "registry on 127.0.0.1:$port (pid $(running_pid "$port")) does not answer (see $log)"
    say "ok: registry running on 127.0.0.1:$port"
    return
  fi
  if answers "$port" || ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    die "port $port is in use by another process"
  fi

  rm -rf "$dir"
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: slipway-test-registry
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  : >"$log"
  "$(dirname "${BASH_SOURCE[0]}")/lib/daemonize.sh" "$log" "$REGISTRY_BIN" serve "$dir/config.yml" &
  local pid=$!
  echo "$pid" >"$dir/registry.pid"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until answers "$port"; do
    if ! alive "$pid"; then
      tail -n 20 "$log" >&2 || true
      rm -rf "$dir"
      die "registry on port $port exited (log: $log)"
    fi
    if ((SECONDS >= deadline)); then
      kill "$pid" 2>/dev/null || true
      tail -n 20 "$log" >&2 || true
      die "registry on port $port did not answer within ${READY_TIMEOUT}s"
    fi
    sleep 0.1
  done
  say "started: registry on 127.0.0.1:$port (pid $pid, log $log)"
}

stop() {
  local port=$1 dir="$STATE_ROOT/$1" pid
  lock "$port"
  if pid=$(running_pid "$port"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$dir"
    say "stopped: registry on 127.0.0.1:$port"
  else
    rm -rf "$dir"
    say "ok: registry on 127.0.0.1:$port not running"
  fi
}

cmd=${1:-}; port=${2:-5001}
[[ "$port" =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "invalid port: $port"
case "$cmd" in
  start) start "$port" ;;
  stop) stop "$port" ;;
  status) running_pid "$port" >/dev/null && answers "$port" ;;
  *) usage ;;
esac
