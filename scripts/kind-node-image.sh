#!/usr/bin/env bash
# kind-node-image.sh - a Kind node image built here, from source, with nothing
# pulled from a container registry; prints its reference as the LAST line of
# stdout (progress goes to stderr).
#
#   base      scripts/lib/kind-image/base.sh (kind's images/base)
#   binaries  scripts/lib/kind-image/kubernetes.sh bin: Kubernetes (pinned
#             there) and the addons' Go commands, one cached `go build`
#   addons    scripts/lib/kind-image/addons.sh: etcd, CoreDNS, pause,
#             kindnetd, local-path-provisioner and its helper, as local images
#             under the names kubeadm and kind's builder look for
#   tarball   kubernetes.sh tarball: kubernetes-server-linux-amd64.tar.gz-shaped
#   node      `kind build node-image --type file TARBALL --base-image BASE`
#
# Idempotent and cached: the tag is a hash of every input (the base image,
# the binaries' key, these scripts, the tools image, the kind CLI's version),
# so a warm run only hashes and finds the image. The base image and the Go
# compile run at the same time on a cold run.
#
# Environment:
#   SLIPWAY_KIND_NODE_REPO   image repository (slipway.local/kindest/node)
#   SLIPWAY_KIND_REBUILD=1   rebuild the node image even if its tag exists
#   SLIPWAY_CACHE_DIR        caches (/var/cache/slipway), as base.sh
#   SLIPWAY_KIND_NICE        niceness of the Kubernetes compile (0)
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(dirname "$(dirname "$SELF")")
LIB="$ROOT/scripts/lib/kind-image"
REPO=${SLIPWAY_KIND_NODE_REPO:-slipway.local/kindest/node}
export PATH="/usr/local/go/bin:$HOME/go/bin:$PATH"

log() { printf 'kind-node-image: %s\n' "$*" >&2; }
die() { printf 'kind-node-image: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

TMPS=()
PIDS=()
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${TMPS[@]}"; do rm -rf "$p"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for c in go docker kind jq; do
  command -v "$c" >/dev/null || die "$c not found (run scripts/setup.sh)"
done
T0=$(now)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kind-node-image.XXXXXX")
TMPS+=("$WORK")

# --- 1. base image and binaries, at the same time ----------------------------
# last_line CMD...: run CMD with its stdout to a file; the result is the last line.
"$LIB/base.sh" >"$WORK/base.out" &
BASE_PID=$!
PIDS+=("$BASE_PID")
"$LIB/kubernetes.sh" bin >"$WORK/bin.out" &
BIN_PID=$!
PIDS+=("$BIN_PID")
"$LIB/addons.sh" tools >"$WORK/tools.out" &
TOOLS_PID=$!
PIDS+=("$TOOLS_PID")
wait "$BASE_PID" || die "base image (scripts/lib/kind-image/base.sh) failed"
wait "$TOOLS_PID" || die "tools image (addons.sh tools) failed"
wait "$BIN_PID" || die "Kubernetes binaries (kubernetes.sh bin) failed"
PIDS=()
BASE=$(tail -n 1 "$WORK/base.out")
BIN=$(tail -n 1 "$WORK/bin.out")
TOOLS=$(tail -n 1 "$WORK/tools.out")
[[ -n "$BASE" && -d "$BIN" && -n "$TOOLS" ]] || die "a build step printed no result"
KUBE_VERSION=$("$LIB/kubernetes.sh" version)
KIND_VERSION=$(kind version | awk '{print $2}')

# --- 2. the node image's tag: a hash of every input --------------------------
SUM=$(
  {
    printf '%s\n' "$BASE" "$(docker image inspect -f '{{.Id}}' "$BASE")" "$(basename "$BIN")" \
      "$TOOLS" "$KIND_VERSION" "$KUBE_VERSION"
    sha256sum "$SELF" "$LIB/kubernetes.sh" "$LIB/addons.sh" "$LIB/addons/docker-shim.sh" | cut -c1-64
  } | sha256sum | cut -c1-12
)
REF="$REPO:$KUBE_VERSION-$SUM"
if [[ "${SLIPWAY_KIND_REBUILD:-}" != 1 ]] && docker image inspect "$REF" >/dev/null 2>&1; then
  log "ok: $REF (cached, $(( $(now) - T0 ))s)"
  printf '%s\n' "$REF"
  exit 0
fi
log "building $REF (Kubernetes $KUBE_VERSION, kind $KIND_VERSION, base $BASE)"

# --- 3. addon images and the tarball -----------------------------------------
# kind replaces kubeadm's pause by the sandbox image of the base image's
# containerd config; that name must be in the tarball too.
SANDBOX=$(docker run --rm --entrypoint cat "$BASE" /etc/containerd/config.toml \
  | sed -n 's/^\s*sandbox_image\s*=\s*"\(.*\)"/\1/p' | head -n 1)
[[ -n "$SANDBOX" ]] || die "no sandbox_image in $BASE's /etc/containerd/config.toml"
"$LIB/addons.sh" images "$BIN" "$TOOLS" "$SANDBOX" "$WORK/addons.refs"
TARBALL="$WORK/kubernetes-server-linux-amd64.tar.gz"
"$LIB/kubernetes.sh" tarball "$BIN" "$WORK/addons.refs" "$TARBALL" "$TOOLS"

# --- 4. kind build node-image ------------------------------------------------
# kind's builder runs through a `docker` shim (addons/docker-shim.sh says why).
mkdir -p "$WORK/shim"
ln -s "$LIB/addons/docker-shim.sh" "$WORK/shim/docker"
t=$(now)
if ! SLIPWAY_REAL_DOCKER=$(command -v docker) PATH="$WORK/shim:$PATH" TMPDIR="$WORK" kind build node-image --type file "$TARBALL" \
    --base-image "$BASE" --image "$REF" >"$WORK/kind-build.log" 2>&1; then
  tail -n 40 "$WORK/kind-build.log" >&2
  die "kind build node-image failed"
fi
# kind pulls only what the archives lack: say so if it ever tried.
if grep -q 'Failed to pull' "$WORK/kind-build.log"; then
  grep 'Failed to pull' "$WORK/kind-build.log" >&2
  die "kind tried to pull an image the tarball lacks"
fi
docker image inspect "$REF" >/dev/null 2>&1 || die "kind reported success but $REF is missing"
log "node: kind build node-image $(( $(now) - t ))s"

# --- 5. superseded images --------------------------------------------------
# Each input change leaves a 1.3 GB node image (and a base) behind. Only this
# script makes these repositories, so older tags are its own; `docker rmi`
# without -f refuses an image a container (a cluster's node) still uses.
for old in $(docker images --format "{{.Repository}}:{{.Tag}}" "$REPO"; docker images --format "{{.Repository}}:{{.Tag}}" "${BASE%:*}"); do
  [[ "$old" == "$REF" || "$old" == "$BASE" ]] && continue
  docker rmi "$old" >/dev/null 2>&1 && log "removed superseded $old" || true
done
log "built $REF ($(( $(now) - T0 ))s)"
printf '%s\n' "$REF"
