#!/usr/bin/env bash
# setup.sh - prepare this machine for slipway development and tests.
#
# Idempotent; quick (a few seconds) when everything is already in place.
#   1. apt packages (docker.io, debootstrap, jq, containerd, runc, git, ca-certificates)
#   2. dockerd (with a runc wrapper when the kernel lacks CAP_SYS_RESOURCE)
#   3. pinned tools: docker-buildx, kind, crictl (go install)
#   4. local base images (no registry needed): slipway.local/base/...
#
# Environment overrides:
#   SLIPWAY_TOOLS_DIR  where go-installed tools live   (/usr/local/lib/slipway/bin)
#   SLIPWAY_CACHE_DIR  debootstrap / deb cache         (/var/cache/slipway)
#   SLIPWAY_MIRROR     Debian mirror                   (http://deb.debian.org/debian)
#   SLIPWAY_SKIP_IMAGES=1  stop after step 3
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
LIB_DIR="$SCRIPT_DIR/lib"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$LIB_DIR/common.sh"
TOOLS_DIR=${SLIPWAY_TOOLS_DIR:-/usr/local/lib/slipway/bin}
CACHE_DIR=${SLIPWAY_CACHE_DIR:-/var/cache/slipway}
MIRROR=${SLIPWAY_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
DOCKERD_LOG=/var/log/slipway-dockerd.log
HOST_CA=/etc/ssl/certs/ca-certificates.crt

# Pinned tool versions.
BUILDX_MOD=github.com/docker/buildx
BUILDX_VERSION=v0.38.2
KIND_MOD=sigs.k8s.io/kind
KIND_VERSION=v0.33.0
CRICTL_MOD=sigs.k8s.io/cri-tools
CRICTL_VERSION=v1.34.0

# Bump a recipe version to force that base image to be rebuilt.
DEBIAN_RECIPE=v1
GOLANG_RECIPE=v1
PYTHON_RECIPE=v1
KINDNODE_RECIPE=v1

IMG_DEBIAN=slipway.local/base/debian:bookworm
IMG_GOLANG=slipway.local/base/golang:1.26-bookworm
IMG_PYTHON=slipway.local/base/python:3-bookworm
IMG_KINDNODE=slipway.local/base/kind-node:bookworm

export DEBIAN_FRONTEND=noninteractive
export PATH="$TOOLS_DIR:/usr/local/go/bin:/usr/local/bin:/usr/local/sbin:$PATH"
cd "$REPO_ROOT"

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

# ---------------------------------------------------------------------------
# 1. apt packages
# ---------------------------------------------------------------------------
step_apt() {
  local pkgs=(docker.io debootstrap jq containerd runc git ca-certificates tini chromium fonts-dejavu-core) # chromium: the report test
  local missing=() p
  for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
  if ((${#missing[@]})); then
    say "installing: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "ok: apt packages installed (${missing[*]})"
  else
    say "ok: apt packages present"
  fi
}

# ---------------------------------------------------------------------------
# 2. dockerd
# ---------------------------------------------------------------------------

docker_ok() { docker info >/dev/null 2>&1; }

step_docker() {
  local args=()
  if ! has_cap_sys_resource; then
    mkdir -p "$TOOLS_DIR"
    if ! cmp -s "$LIB_DIR/slipway-runc" "$TOOLS_DIR/slipway-runc"; then
      install -m 0755 "$LIB_DIR/slipway-runc" "$TOOLS_DIR/slipway-runc"
    fi
    args+=(--add-runtime "slipway-runc=$TOOLS_DIR/slipway-runc" --default-runtime slipway-runc)
  fi

  if docker_ok; then
    if ! has_cap_sys_resource && ! docker info --format '{{.DefaultRuntime}}' 2>/dev/null | grep -q slipway-runc; then
      say "warn: dockerd is running without the slipway-runc runtime; --privileged containers may fail (restart dockerd to fix)"
    fi
    say "ok: docker running"
    return
  fi

  # A dockerd may be starting right now; give it a moment before starting another.
  if pgrep -x dockerd >/dev/null 2>&1; then
    for _ in $(seq 1 40); do docker_ok && { say "ok: docker running"; return; }; sleep 0.25; done
    die "dockerd is running but does not answer (see $DOCKERD_LOG)"
  fi

  say "starting dockerd (log: $DOCKERD_LOG)"
  "$LIB_DIR/daemonize.sh" "$DOCKERD_LOG" dockerd "${args[@]}" &
  for _ in $(seq 1 120); do
    docker_ok && { say "ok: docker running (started${args:+, runtime slipway-runc})"; return; }
    sleep 0.25
  done
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not come up"
}

# ---------------------------------------------------------------------------
# 3. pinned tools
# ---------------------------------------------------------------------------
# tool_current BINARY MODULE VERSION LDFLAGS: was BINARY built from MODULE@VERSION
# with these ldflags?
tool_current() {
  [[ -x "$1" ]] || return 1
  local info; info=$(go version -m "$1" 2>/dev/null) || return 1
  awk -v m="$2" -v v="$3" '$1=="mod" && $2==m && $3==v {f=1} END {exit !f}' <<<"$info" || return 1
  [[ "$info" == *"-ldflags=\"$4\""* ]]
}

go_tool() { # NAME MODULE PKG VERSION [LDFLAGS]
  local name=$1 mod=$2 pkg=$3 ver=$4 ldflags="-s -w${5:+ $5}"
  if tool_current "$TOOLS_DIR/$name" "$mod" "$ver" "$ldflags"; then
    say "ok: $name $ver"
    return
  fi
  local t0; t0=$(now)
  say "installing: $name $ver (go install, may take a few minutes)"
  GOBIN="$TOOLS_DIR" CGO_ENABLED=0 go install -ldflags "$ldflags" "$pkg@$ver"
  say "installed: $name $ver ($(( $(now) - t0 ))s)"
}

link_if_needed() { # SRC DST
  if [[ "$(readlink "$2" 2>/dev/null || true)" != "$1" ]]; then
    mkdir -p "$(dirname "$2")"
    ln -sfn "$1" "$2"
  fi
}

step_tools() {
  command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go)"
  mkdir -p "$TOOLS_DIR"
  go_tool buildx "$BUILDX_MOD" "$BUILDX_MOD/cmd/buildx" "$BUILDX_VERSION" \
    "-X $BUILDX_MOD/version.Version=$BUILDX_VERSION -X $BUILDX_MOD/version.Revision=$BUILDX_VERSION"
  go_tool kind "$KIND_MOD" "$KIND_MOD" "$KIND_VERSION"
  go_tool crictl "$CRICTL_MOD" "$CRICTL_MOD/cmd/crictl" "$CRICTL_VERSION" \
    "-X $CRICTL_MOD/pkg/version.Version=${CRICTL_VERSION#v}"

  # docker CLI plugin (per-user dir as documented, plus the system dir so any
  # HOME finds it).
  local plug="${HOME:-/root}/.docker/cli-plugins/docker-buildx"
  if ! cmp -s "$TOOLS_DIR/buildx" "$plug"; then
    mkdir -p "$(dirname "$plug")"
    install -m 0755 "$TOOLS_DIR/buildx" "$plug"
  fi
  link_if_needed "$TOOLS_DIR/buildx" /usr/local/lib/docker/cli-plugins/docker-buildx
  link_if_needed "$TOOLS_DIR/kind" /usr/local/bin/kind
  link_if_needed "$TOOLS_DIR/crictl" /usr/local/bin/crictl
  docker buildx version >/dev/null 2>&1 || die "docker buildx does not work"
  say "ok: docker buildx $(docker buildx version | awk '{print $2}')"
}

# ---------------------------------------------------------------------------
# 4. base images
# ---------------------------------------------------------------------------
CA_SUM=$(sha256sum "$HOST_CA" 2>/dev/null | cut -c1-12 || echo none)

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

# rootfs NAME INCLUDES -> prints path of a cached debootstrap tree (built once).
rootfs() {
  local name=$1 include=$2
  local dir="$CACHE_DIR/rootfs/$name"
  if [[ ! -f "$dir/.slipway-complete" ]]; then
    local t0; t0=$(now)
    mkdir -p "$CACHE_DIR/rootfs" "$CACHE_DIR/debs"
    rm -rf "$dir" "$dir.tmp"
    local inc=()
    [[ -n "$include" ]] && inc=(--include="$include")
    say "debootstrap: $name${include:+ (+$include)}" >&2
    if ! debootstrap --variant=minbase "${inc[@]}" --cache-dir="$CACHE_DIR/debs" \
        "$SUITE" "$dir.tmp" "$MIRROR" >"$CACHE_DIR/rootfs/$name.log" 2>&1; then
      tail -n 20 "$CACHE_DIR/rootfs/$name.log" >&2
      die "debootstrap $name failed (log: $CACHE_DIR/rootfs/$name.log)"
    fi
    # Trim: downloaded debs, apt lists, logs.
    rm -rf "$dir.tmp"/var/cache/apt/archives/*.deb "$dir.tmp"/var/lib/apt/lists/* \
      "$dir.tmp"/var/log/* "$dir.tmp"/debootstrap
    touch "$dir.tmp/.slipway-complete"
    mv "$dir.tmp" "$dir"
    say "debootstrap: $name done ($(( $(now) - t0 ))s)" >&2
  fi
  printf '%s\n' "$dir"
}

# import_rootfs DIR IMAGE STAMP CHANGES... : tar the tree (with host CA bundle
# and extra files from $EXTRA_DIR overlaid) into a single-layer image.
import_rootfs() {
  local dir=$1 image=$2 stamp=$3; shift 3
  local changes=() c
  for c in "$@"; do changes+=(--change "$c"); done
  # The host CA bundle: HTTPS from here is re-signed by a local CA.
  mkdir -p "$dir/etc/ssl/certs"
  cp "$HOST_CA" "$dir/etc/ssl/certs/ca-certificates.crt"
  tar -C "$dir" --numeric-owner --exclude=./.slipway-complete -c . \
    | docker import "${changes[@]}" \
        --change "LABEL io.slipway.base.stamp=$stamp" \
        --message "slipway base $stamp" - "$image" >/dev/null
}

# ensure IMAGE RECIPE BUILDFN : build unless IMAGE-stamp already exists.
ensure_image() {
  local image=$1 stamp=$2 fn=$3
  local stamp_tag="${image}-${stamp}"
  if image_present "$stamp_tag"; then
    image_present "$image" || docker tag "$stamp_tag" "$image"
    say "ok: $image"
    return
  fi
  local t0; t0=$(now)
  "$fn" "$image" "$stamp"
  docker tag "$image" "$stamp_tag"
  say "built: $image ($(( $(now) - t0 ))s)"
}

build_debian() {
  local dir; dir=$(rootfs "debian-$DEBIAN_RECIPE" "")
  import_rootfs "$dir" "$1" "$2" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    'CMD ["/bin/bash"]'
}

build_golang() {
  # FROM the debian base so the two share their root layer. The context is
  # streamed as a tar: Dockerfile + the host's Go toolchain.
  local ctx; ctx=$(mktemp -d)
  cat >"$ctx/Dockerfile" <<EOF
FROM $IMG_DEBIAN
COPY go /usr/local/go
ENV GOLANG_VERSION=$(go env GOVERSION | sed 's/^go//') \\
    GOPATH=/go \\
    GOTOOLCHAIN=local \\
    CGO_ENABLED=0 \\
    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/bin /go/src && chmod -R 1777 /go && go version
LABEL io.slipway.base.stamp=$2
WORKDIR /go
EOF
  local goroot; goroot=$(go env GOROOT)
  tar -c --numeric-owner -C "$ctx" Dockerfile -C "$(dirname "$goroot")" \
      --transform "s,^$(basename "$goroot"),go," "$(basename "$goroot")" \
    | DOCKER_BUILDKIT=0 docker build -q -t "$1" - >/dev/null 2>"$ctx/err" \
    || { cat "$ctx/err" >&2; rm -rf "$ctx"; die "building $1 failed"; }
  rm -rf "$ctx"
}

build_python() {
  local dir; dir=$(rootfs "python-$PYTHON_RECIPE" "python3-minimal")
  import_rootfs "$dir" "$1" "$2" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV LANG=C.UTF-8' \
    'ENV PYTHONUNBUFFERED=1' \
    'CMD ["/usr/bin/python3"]'
}

build_kindnode() {
  local dir; dir=$(rootfs "kind-node-$KINDNODE_RECIPE" "containerd,runc,tini")
  install -m 0755 "$TOOLS_DIR/crictl" "$dir/usr/local/bin/crictl"
  install -m 0644 "$LIB_DIR/kind-node/crictl.yaml" "$dir/etc/crictl.yaml"
  mkdir -p "$dir/etc/containerd"
  install -m 0644 "$LIB_DIR/kind-node/config.toml" "$dir/etc/containerd/config.toml"
  install -m 0755 "$LIB_DIR/kind-node/entrypoint.sh" "$dir/usr/local/bin/slipway-node-entrypoint"
  import_rootfs "$dir" "$1" "$2" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    'ENV container=docker' \
    'VOLUME ["/var/lib/containerd"]' \
    'ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/slipway-node-entrypoint"]'
}

# A short digest of files feeding an image, so edits to them force a rebuild.
files_sum() { cat "$@" | sha256sum | cut -c1-8; }

step_images() {
  local gover; gover=$(go env GOVERSION)
  ensure_image "$IMG_DEBIAN" "$DEBIAN_RECIPE-$CA_SUM" build_debian
  ensure_image "$IMG_GOLANG" "$GOLANG_RECIPE-$gover-$CA_SUM-$(docker image inspect -f '{{.Id}}' "$IMG_DEBIAN" | cut -c8-15)" build_golang
  ensure_image "$IMG_PYTHON" "$PYTHON_RECIPE-$CA_SUM" build_python
  ensure_image "$IMG_KINDNODE" "$KINDNODE_RECIPE-$CA_SUM-$CRICTL_VERSION-$(files_sum "$LIB_DIR"/kind-node/*)" build_kindnode
}

main() {
  [[ $EUID -eq 0 ]] || die "run as root"
  # Serialise concurrent runs (parallel test jobs, CI).
  mkdir -p /var/lock
  exec 9>/var/lock/slipway-setup.lock
  # A bounded wait: a stale holder gets named instead of hanging CI.
  flock -w 900 9 || die "another setup has held /var/lock/slipway-setup.lock for 15 minutes"
  step_apt
  step_docker
  step_tools
  "$LIB_DIR/setup-registry.sh"
  SLIPWAY_TOOLS_DIR="$TOOLS_DIR" SLIPWAY_CACHE_DIR="$CACHE_DIR" "$LIB_DIR/setup-buildkit.sh"
  [[ "${SLIPWAY_SKIP_IMAGES:-}" == 1 ]] && return
  step_images
  SLIPWAY_TOOLS_DIR="$TOOLS_DIR" "$LIB_DIR/setup-podman.sh"
}

main "$@"
