#!/usr/bin/env bash
# check.sh [REF] - start the Kind base image the way kind starts a node
# (privileged, tmpfs /run and /tmp, anonymous /var, /lib/modules read-only,
# private cgroupns, no init) and check that systemd comes up and containerd
# answers `ctr version` and `crictl info`. REF defaults to what ../base.sh
# prints (building it if needed). Exits non-zero with the node's log on
# failure; the container is removed either way.
#
#   SLIPWAY_KIND_CHECK_ENGINE  docker (default) or podman
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENGINE=${SLIPWAY_KIND_CHECK_ENGINE:-docker}
REF=${1:-$("$HERE/../base.sh" | tail -n 1)}
NAME="slipway-kind-base-check-$$"

log() { printf 'kind-base-check: %s\n' "$*" >&2; }
fail() {
  printf 'kind-base-check: FAIL: %s\n' "$*" >&2
  "$ENGINE" logs "$NAME" 2>&1 | tail -n 40 >&2 || true
  "$ENGINE" exec "$NAME" systemctl --no-pager --failed >&2 2>&1 || true
  exit 1
}
trap '"$ENGINE" rm -f "$NAME" >/dev/null 2>&1 || true' EXIT

t0=$(date +%s)
# The flags of kind v0.33.0's docker provider (provision.go), minus its network.
"$ENGINE" run -d --name "$NAME" --hostname "$NAME" \
  --privileged --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
  --tmpfs /tmp --tmpfs /run --volume /var --volume /lib/modules:/lib/modules:ro \
  --cgroupns=private --init=false --tty \
  -e KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER "$REF" >/dev/null \
  || fail "could not start $REF"

# systemd: kind waits for this line (or "detected cgroup v1") in the log.
state=
for _ in $(seq 1 180); do
  state=$("$ENGINE" exec "$NAME" systemctl is-system-running 2>/dev/null || true)
  [[ "$state" == running || "$state" == degraded ]] && break
  sleep 1
done
[[ "$state" == running ]] || fail "systemd is '$state', not running"
pid1=$("$ENGINE" exec "$NAME" cat /proc/1/comm)
[[ "$pid1" == systemd ]] || fail "PID 1 is $pid1, not systemd"
log "systemd running as PID 1 ($(( $(date +%s) - t0 ))s)"

for _ in $(seq 1 60); do
  "$ENGINE" exec "$NAME" ctr version >/dev/null 2>&1 && break
  sleep 1
done
"$ENGINE" exec "$NAME" ctr version >&2 || fail "ctr version"
info=$("$ENGINE" exec "$NAME" crictl info) || fail "crictl info"
jq -e '.status.conditions[] | select(.type == "RuntimeReady") | .status' <<<"$info" >/dev/null \
  || fail "crictl info: no RuntimeReady condition"
log "crictl info: RuntimeReady=$(jq -r '.status.conditions[] | select(.type == "RuntimeReady") | .status' <<<"$info")"
# kind's config is version 2; containerd 2.x migrates it. What it runs with:
dump=$("$ENGINE" exec "$NAME" containerd config dump 2>/dev/null) || fail "containerd config dump"
grep -q "discard_unpacked_layers = true" <<<"$dump" || fail "containerd runs without discard_unpacked_layers = true"
grep -q "snapshotter = 'overlayfs'" <<<"$dump" || fail "containerd's CRI snapshotter is not overlayfs"
log "containerd config: $(grep -m1 '^version' <<<"$dump"), discard_unpacked_layers = true, snapshotter overlayfs"
"$ENGINE" exec "$NAME" runc --version >&2 || fail "runc --version"
for p in host-local loopback ptp portmap; do
  "$ENGINE" exec "$NAME" test -x "/opt/cni/bin/$p" || fail "/opt/cni/bin/$p missing"
done
log "ok: $REF ($(( $(date +%s) - t0 ))s)"
