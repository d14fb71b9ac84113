#!/usr/bin/env bash
# buildkit.sh - a standalone BuildKit daemon plus a buildx "remote" builder.
#
#   buildkit.sh start  [PORT]   (default 1234) run buildkitd on tcp://127.0.0.1:PORT
#                               and register the buildx builder (see below)
#   buildkit.sh stop   [PORT]   remove the builder, stop buildkitd (cache kept)
#   buildkit.sh purge  [PORT]   stop, then delete its root dir (build cache)
#   buildkit.sh status [PORT]   exit 0 when buildkitd answers
#
# Builder name: slipway-remote for port 1234, slipway-remote-PORT otherwise
# (SLIPWAY_BUILDKIT_BUILDER overrides). Use it with
#   docker buildx build --builder slipway-remote --push -t localhost:5001/x:1 .
# The builder cannot see docker's local images: FROM images must come from a
# registry (scripts/registry.sh). Registries reached over plain HTTP:
# SLIPWAY_BUILDKIT_REGISTRIES (default "localhost:5001 127.0.0.1:5001");
# buildkit also uses plain HTTP for localhost / 127.0.0.1 on any port.
#
# OCI worker only (runc; SLIPWAY_BUILDKIT_RUNC overrides, e.g. slipway-runc).
# Root dir (build cache), config and pid file: /var/lib/slipway-buildkit/PORT;
# log: /var/log/slipway-buildkitd-PORT.log. Idempotent.
# Installed by scripts/setup.sh (scripts/lib/setup-buildkit.sh).
set -euo pipefail

TOOLS_DIR=${SLIPWAY_TOOLS_DIR:-/usr/local/lib/slipway/bin}
STATE_ROOT=${SLIPWAY_BUILDKIT_ROOT:-/var/lib/slipway-buildkit}
READY_TIMEOUT=${SLIPWAY_BUILDKIT_READY_TIMEOUT:-60}
REGISTRIES=${SLIPWAY_BUILDKIT_REGISTRIES:-localhost:5001 127.0.0.1:5001}
export PATH="$TOOLS_DIR:/usr/local/go/bin:/usr/local/bin:/usr/local/sbin:$PATH"
BUILDKITD="$TOOLS_DIR/buildkitd"
BUILDCTL="$TOOLS_DIR/buildctl"

usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

alive() { readlink "/proc/$1/exe" >/dev/null 2>&1; } # false for zombies too

builder_name() {
  if [[ -n "${SLIPWAY_BUILDKIT_BUILDER:-}" ]]; then printf '%s\n' "$SLIPWAY_BUILDKIT_BUILDER"
  elif [[ "$1" == 1234 ]]; then echo slipway-remote
  else echo "slipway-remote-$1"; fi
}

answers() { "$BUILDCTL" --addr "tcp://127.0.0.1:$1" debug workers >/dev/null 2>&1; }

running_pid() { # PORT
  local pf="$STATE_ROOT/$1/buildkitd.pid" pid
  [[ -f "$pf" ]] || return 1
  pid=$(cat "$pf" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  local exe; exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  # " (deleted)": the binary was replaced (rebuilt/upgraded) while running
  [[ "${exe% (deleted)}" == "$(readlink -f "$BUILDKITD")" ]] || return 1
  printf '%s\n' "$pid"
}

lock() { # PORT: serialise start/stop of one port
  mkdir -p /var/lock
  exec 8>"/var/lock/slipway-buildkit-$1.lock"
  flock -w 300 8 || { echo "error: /var/lock/slipway-buildkit-$1.lock held for 5 minutes" >&2; exit 1; }
}

write_config() { # PORT DIR
  local port=$1 dir=$2 r
  # Plain runc works even without CAP_SYS_RESOURCE in the bounding set
  # (buildkit only asks for capabilities the daemon has, even for
  # RUN --security=insecure), so dockerd's slipway-runc wrapper is not needed.
  local runc=${SLIPWAY_BUILDKIT_RUNC:-runc}
  {
    cat <<EOF
# Written by scripts/buildkit.sh; rewritten on every start.
root = "$dir/root"
# test machine: allow RUN --security=insecure / --network=host when asked for
insecure-entitlements = ["security.insecure", "network.host"]

[grpc]
  address = ["tcp://127.0.0.1:$port"]

[worker.oci]
  enabled = true
  binary = "$runc"
  gc = true
  # keep the build cache modest on test machines
  reservedSpace = "1GB"
  maxUsedSpace = "10GB"
  minFreeSpace = "10GB"

[worker.containerd]
  enabled = false
EOF
    for r in $REGISTRIES; do
      printf '\n[registry."%s"]\n  http = true\n  insecure = true\n' "$r"
    done
  } >"$dir/buildkitd.toml"
}

# ensure_builder NAME PORT: a buildx remote builder pointing at the daemon.
ensure_builder() {
  local name=$1 ep="tcp://127.0.0.1:$2" cur
  cur=$(docker buildx inspect "$name" 2>/dev/null | awk '$1=="Endpoint:"{print $2; exit}') || true
  if [[ "$cur" != "$ep" ]]; then
    [[ -n "$cur" ]] && docker buildx rm "$name" >/dev/null 2>&1 || true
    docker buildx create --name "$name" --driver remote "$ep" >/dev/null \
      || die "docker buildx create --name $name --driver remote $ep failed"
  fi
  docker buildx inspect --bootstrap "$name" >/dev/null 2>&1 \
    || die "buildx builder $name cannot reach $ep"
}

remove_builder() { # NAME
  if docker buildx inspect "$1" >/dev/null 2>&1; then
    docker buildx rm "$1" >/dev/null 2>&1 || true
  fi
}

start() {
  local port=$1 dir="$STATE_ROOT/$1" log="/var/log/slipway-buildkitd-$1.log" name
  name=$(builder_name "$port")
  [[ -x "$BUILDKITD" && -x "$BUILDCTL" ]] || die "buildkitd/buildctl not found in $TOOLS_DIR (run scripts/setup.sh)"
  lock "$port"
  if running_pid "$port" >/dev/null; then
    answers "$port" || die "buildkitd on 127.0.0.1:$port (pid $(running_pid "$port")) does not answer (see $log)"
    ensure_builder "$name" "$port"
    say "ok: buildkitd running on tcp://127.0.0.1:$port (builder $name)"
    return
  fi
  if answers "$port" || ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    die "port $port is in use by another process"
  fi

  mkdir -p "$dir/root"
  write_config "$port" "$dir"
  : >"$log"
  "$(dirname "${BASH_SOURCE[0]}")/lib/daemonize.sh" "$log" "$BUILDKITD" --config "$dir/buildkitd.toml" \
    --oci-worker=true --containerd-worker=false &
  local pid=$!
  echo "$pid" >"$dir/buildkitd.pid"
  local deadline=$((SECONDS + READY_TIMEOUT))
  until answers "$port"; do
    if ! alive "$pid"; then
      tail -n 20 "$log" >&2 || true
      die "buildkitd on port $port exited (log: $log)"
    fi
    if ((SECONDS >= deadline)); then
      kill "$pid" 2>/dev/null || true
      tail -n 20 "$log" >&2 || true
      die "buildkitd on port $port did not answer within ${READY_TIMEOUT}s"
    fi
    sleep 0.1
  done
  ensure_builder "$name" "$port"
  say "started: buildkitd on tcp://127.0.0.1:$port (pid $pid, builder $name, log $log)"
}

# Unmount anything left mounted under DIR (after a crash), deepest first.
umount_under() {
  awk -v d="$1/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

stop() {
  local port=$1 purge=${2:-} dir="$STATE_ROOT/$1" name pid
  name=$(builder_name "$port")
  lock "$port"
  remove_builder "$name"
  if pid=$(running_pid "$port"); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null || true
    say "stopped: buildkitd on tcp://127.0.0.1:$port"
  else
    say "ok: buildkitd on tcp://127.0.0.1:$port not running"
  fi
  rm -f "$dir/buildkitd.pid"
  if [[ -n "$purge" && -d "$dir" ]]; then
    umount_under "$dir"
    rm -rf "$dir"
    say "purged: $dir"
  fi
}

cmd=${1:-}; port=${2:-1234}
[[ "$port" =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "invalid port: $port"
case "$cmd" in
  start) start "$port" ;;
  stop) stop "$port" ;;
  purge) stop "$port" purge ;;
  status) running_pid "$port" >/dev/null && answers "$port" ;;
  *) usage ;;
esac
