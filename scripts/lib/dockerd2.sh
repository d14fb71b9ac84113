#!/usr/bin/env bash
# dockerd2.sh - a second, throw-away Docker daemon for fault tests, so a test
# can kill a daemon without taking the one everybody else uses down with it.
#
#   dockerd2.sh start DIR    start (or restart, keeping its images) the daemon
#                            whose state lives in DIR; prints its DOCKER_HOST
#   dockerd2.sh kill DIR     SIGKILL that dockerd (the fault under test)
#   dockerd2.sh stop DIR     stop it and its containerd, unmount and remove
#                            DIR, delete its bridge
#
# DIR must be short (the containerd socket under it must fit a unix socket
# path). The daemon has its own data root, exec root, pid file, socket and
# bridge (SLIPWAY_DOCKERD2_BRIDGE, default slipwayb2, 10.99.0.1/24). Its own
# bridge matters: with --bridge=none dockerd deletes the host's docker0 and
# breaks the main daemon. For the same reason it runs with --iptables=false;
# so that its containers (RUN steps that download modules) reach the
# network, the script adds three rules of its own for the bridge — NAT out,
# forward out, forward replies in — and removes them at stop.
# Like setup.sh, it runs containers through scripts/lib/slipway-runc where
# the machine lacks CAP_SYS_RESOURCE.
set -euo pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$LIB_DIR/common.sh"
TOOLS_DIR=${SLIPWAY_TOOLS_DIR:-/usr/local/lib/slipway/bin}
BRIDGE=${SLIPWAY_DOCKERD2_BRIDGE:-slipwayb2}
BRIDGE_CIDR=${SLIPWAY_DOCKERD2_CIDR:-10.99.0.1/24}

die() { printf 'dockerd2: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

pid_of() { # FILE: the live pid in FILE, or nothing
  local p
  p=$(cat "$1" 2>/dev/null || true)
  [[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && echo "$p"
  return 0
}

host() { echo "unix://$1/docker.sock"; }

# nat RULE-ACTION: -A adds the bridge's rules (once), -D removes them.
nat() {
  command -v iptables >/dev/null || return 0
  local rules=(
    "-t nat POSTROUTING -s $BRIDGE_CIDR ! -o $BRIDGE -j MASQUERADE"
    "FORWARD -i $BRIDGE ! -o $BRIDGE -j ACCEPT"
    "FORWARD -o $BRIDGE -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
  ) r table chain
  for r in "${rules[@]}"; do
    # shellcheck disable=SC2086 # each rule is words
    set -- $r
    table=()
    if [[ $1 == -t ]]; then table=(-t "$2"); shift 2; fi
    chain=$1; shift
    if iptables "${table[@]}" -C "$chain" "$@" 2>/dev/null; then
      [[ $ACTION == -D ]] && iptables "${table[@]}" -D "$chain" "$@"
    else
      [[ $ACTION == -A ]] && iptables "${table[@]}" -I "$chain" 1 "$@"
    fi
  done
  return 0
}

start() {
  local dir=$1
  mkdir -p "$dir/data" "$dir/exec"
  if [[ -n "$(pid_of "$dir/docker.pid")" ]] && DOCKER_HOST=$(host "$dir") docker info >/dev/null 2>&1; then
    host "$dir"
    return
  fi
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  ACTION=-A nat
  local args=(
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid"
    -H "$(host "$dir")" --bridge "$BRIDGE" --iptables=false --ip6tables=false
  )
  if ! has_cap_sys_resource; then
    [[ -x "$TOOLS_DIR/slipway-runc" ]] || die "$TOOLS_DIR/slipway-runc missing (run scripts/setup.sh)"
    args+=(--add-runtime "slipway-runc=$TOOLS_DIR/slipway-runc" --default-runtime slipway-runc)
  fi
  # A SIGKILLed dockerd leaves its pid file behind; dockerd refuses to start
  # over a pid file naming a live process only, so a stale one is harmless.
  "$LIB_DIR/daemonize.sh" "$dir/dockerd.log" dockerd "${args[@]}" &
  local i
  for i in $(seq 1 240); do
    if DOCKER_HOST=$(host "$dir") docker info >/dev/null 2>&1; then
      host "$dir"
      return
    fi
    sleep 0.25
  done
  tail -n 30 "$dir/dockerd.log" >&2 || true
  die "dockerd in $dir did not come up in 60 s"
}

kill_daemon() {
  local p
  p=$(pid_of "$1/docker.pid")
  [[ -n "$p" ]] || die "no dockerd running for $1"
  kill -KILL "$p"
  while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
}

stop() {
  local dir=$1 p i f
  p=$(pid_of "$dir/docker.pid")
  if [[ -n "$p" ]]; then
    kill -TERM "$p" || true
    for i in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  # The daemon's own containerd (and shims) outlive a killed dockerd.
  for f in "$dir/exec/containerd/containerd.pid"; do
    p=$(pid_of "$f")
    [[ -n "$p" ]] && { kill -TERM "$p" 2>/dev/null || true; sleep 1; kill -KILL "$p" 2>/dev/null || true; }
  done
  for p in $(pgrep -f -- "$dir/exec/containerd/" || true); do
    kill -KILL "$p" 2>/dev/null || true
  done
  # Overlay and netns mounts under DIR, deepest first.
  findmnt -rn -o TARGET | awk -v d="$dir/" 'index($0, d) == 1' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$dir"
  ACTION=-D nat
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link delete "$BRIDGE" || true
  fi
}

[[ $# -eq 2 ]] || usage
[[ "$2" == /* ]] || die "DIR must be an absolute path"
case "$1" in
  start) start "$2" ;;
  kill) kill_daemon "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
