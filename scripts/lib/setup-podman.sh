#!/usr/bin/env bash
# setup-podman.sh - make podman usable next to docker (called by scripts/setup.sh).
#
# Idempotent; well under a second when everything is already in place.
#   1. apt packages: podman (runs as root: overlay storage, CNI networking;
#      no uidmap / fuse-overlayfs / slirp4netns needed)
#   2. /etc/containers/containers.conf.d/slipway.conf:
#      - default_ulimits within this host's hard limits (podman's defaults ask
#        for more than the hard limit, and without CAP_SYS_RESOURCE every
#        container then fails with "error setting rlimit type 7")
#      - runtime slipway-runc when the kernel lacks CAP_SYS_RESOURCE (the same
#        runc wrapper dockerd uses, so --privileged works)
#   3. base images copied from docker storage (docker save | podman load) when
#      absent from podman or different from docker's (same image ID in both).
#
# Environment overrides:
#   SLIPWAY_TOOLS_DIR       where slipway-runc is installed (/usr/local/lib/slipway/bin)
#   SLIPWAY_PODMAN_IMAGES   images to copy (space separated; default: debian + kind-node bases)
#   SLIPWAY_SKIP_PODMAN=1   do nothing
set -euo pipefail

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$LIB_DIR/common.sh"
TOOLS_DIR=${SLIPWAY_TOOLS_DIR:-/usr/local/lib/slipway/bin}
CONF=/etc/containers/containers.conf.d/slipway.conf
IMAGES=${SLIPWAY_PODMAN_IMAGES:-slipway.local/base/debian:bookworm slipway.local/base/kind-node:bookworm}

export DEBIAN_FRONTEND=noninteractive
export PATH="$TOOLS_DIR:/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }


step_apt() {
  # containernetworking-plugins: podman 4.3's CNI network backend (one of the
  # alternatives containers-common depends on; named so apt never picks another).
  local pkgs=(podman containernetworking-plugins runc jq)
  local missing=() p
  for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
  if ((${#missing[@]})); then
    local t0; t0=$(now)
    say "installing: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "ok: podman packages installed (${missing[*]}, $(( $(now) - t0 ))s)"
  else
    say "ok: podman packages present"
  fi
}

# min A B, where A may be "unlimited"
min_limit() { if [[ "$1" == unlimited ]] || (( $1 > $2 )); then echo "$2"; else echo "$1"; fi; }

CHANGED=0

step_conf() {
  # podman lowers its own RLIMIT_NPROC to 32768 before starting containers, so
  # a container can get at most that; nofile: as docker does here, hard=soft=
  # the host's hard limit.
  local nofile nproc
  nofile=$(min_limit "$(ulimit -Hn)" 1048576)
  nproc=$(min_limit "$(ulimit -Hu)" 32768)
  local want
  want="# Written by scripts/lib/setup-podman.sh (slipway); rewritten on each run.
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]
"
  if ! has_cap_sys_resource; then
    mkdir -p "$TOOLS_DIR"
    if ! cmp -s "$LIB_DIR/slipway-runc" "$TOOLS_DIR/slipway-runc"; then
      install -m 0755 "$LIB_DIR/slipway-runc" "$TOOLS_DIR/slipway-runc"
    fi
    want+="
[engine]
runtime = \"slipway-runc\"

[engine.runtimes]
slipway-runc = [\"$TOOLS_DIR/slipway-runc\"]
"
  fi
  if [[ "$(cat "$CONF" 2>/dev/null || true)" != "${want%$'\n'}" ]]; then
    mkdir -p "$(dirname "$CONF")"
    printf '%s' "$want" >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    CHANGED=1
    say "ok: wrote $CONF (nofile=$nofile nproc=$nproc$(has_cap_sys_resource || echo ', runtime slipway-runc'))"
  else
    say "ok: $CONF"
  fi
}

step_images() {
  local img did pid t0
  for img in $IMAGES; do
    if ! did=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null); then
      say "warn: $img not in docker (run scripts/setup.sh); not copied to podman"
      continue
    fi
    pid=$(podman image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)
    if [[ "sha256:${pid#sha256:}" == "$did" ]]; then
      say "ok: podman $img"
      continue
    fi
    t0=$(now)
    docker save "$img" | podman load -q >/dev/null \
      || die "copying $img from docker to podman failed"
    # Drop the replaced copy if it is now untagged and unused.
    if [[ -n "$pid" && "$(podman image inspect -f '{{len .RepoTags}}' "$pid" 2>/dev/null)" == 0 ]]; then
      podman image rm "$pid" >/dev/null 2>&1 || true
    fi
    CHANGED=1
    say "copied: $img docker -> podman ($(( $(now) - t0 ))s)"
  done
}

# After a change: prove that a container starts (catches rlimit/caps errors).
step_check() {
  ((CHANGED)) || return 0
  local img
  img=$(podman image inspect -f '{{.Id}}' slipway.local/base/debian:bookworm 2>/dev/null) || return 0
  local out
  out=$(podman run --rm --privileged "$img" echo ok 2>&1) \
    || die "podman cannot run containers: $out"
  say "ok: podman runs containers"
}

main() {
  [[ "${SLIPWAY_SKIP_PODMAN:-}" == 1 ]] && { say "ok: podman skipped (SLIPWAY_SKIP_PODMAN=1)"; return; }
  [[ $EUID -eq 0 ]] || die "run as root"
  # Own lock: setup.sh holds its lock while calling us.
  mkdir -p /var/lock
  exec 8>/var/lock/slipway-setup-podman.lock
  flock -w 600 8 || { echo "error: /var/lock/slipway-setup-podman.lock held for 10 minutes" >&2; exit 1; }
  step_apt
  step_conf
  step_images
  step_check
}

main "$@"
