#!/usr/bin/env bash
# base.sh - build the Kind base image (kind's images/base) here, from source,
# with nothing pulled from a container registry.
#
# Equivalent to images/base of sigs.k8s.io/kind at the version go.mod pins
# (v0.33.0): Debian (debootstrap, the suite kind's Dockerfile uses) with the
# same packages, systemd as PID 1, kind's entrypoint, units and containerd
# config (copied verbatim into base/files, see base/README.md), and
# containerd, runc, crictl, the CNI plugins and the fuse-overlayfs snapshotter
# at the versions kind's Dockerfile pins, built with the Go toolchain from
# their modules, in parallel, with the Go build cache.
#
# Idempotent and cached: the tag is a hash of every input (this script, the
# files under base/files, versions, Go version, package list, host CA bundle), so
# a warm run only hashes and checks that the image exists.
#
# Prints the image reference as the LAST line of stdout; everything else
# goes to stderr.
#
# Environment:
#   SLIPWAY_CACHE_DIR      debootstrap / deb / binary cache (/var/cache/slipway)
#   SLIPWAY_MIRROR         Debian mirror (http://deb.debian.org/debian)
#   SLIPWAY_KIND_BASE_REPO image repository (slipway.local/kindest/base)
#   SLIPWAY_KIND_GOCACHE   Go build cache for these builds (go env GOCACHE)
#   SLIPWAY_KIND_REBUILD=1 rebuild the image even if the tag exists
#   SLIPWAY_KIND_NICE      niceness of the Go builds (0)
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
FILES="$HERE/base/files"
CACHE_DIR=${SLIPWAY_CACHE_DIR:-/var/cache/slipway}
MIRROR=${SLIPWAY_MIRROR:-http://deb.debian.org/debian}
REPO=${SLIPWAY_KIND_BASE_REPO:-slipway.local/kindest/base}
HOST_CA=/etc/ssl/certs/ca-certificates.crt
WORK="$CACHE_DIR/kind-image/base"

# --- pins: kind v0.33.0 images/base/Dockerfile -------------------------------
KIND_VERSION=v0.33.0
SUITE=trixie # kind: ARG BASE_IMAGE=debian:trixie-slim
CONTAINERD_VERSION=v2.3.4
RUNC_VERSION=v1.4.3
CRICTL_VERSION=v1.36.0
CNI_PLUGINS_VERSION=v1.9.1
FUSE_OVERLAYFS_VERSION=v2.1.7
# kind's clean-install list, in its order.
PACKAGES=(
  systemd
  conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz fuse-overlayfs
  nfs-common open-iscsi
  e2fsprogs
  bash ca-certificates curl jq procps
)
# Bump to force the debootstrap tree to be rebuilt (its recipe is below).
ROOTFS_RECIPE=v1

CONTAINERD_MOD=github.com/containerd/containerd/v2
RUNC_MOD=github.com/opencontainers/runc
CRICTL_MOD=sigs.k8s.io/cri-tools
CNI_MOD=github.com/containernetworking/plugins
FUSE_MOD=github.com/containerd/fuse-overlayfs-snapshotter/v2
# kind: "we don't build with optional snapshotters"
CONTAINERD_TAGS="no_aufs no_zfs no_btrfs no_devmapper"

export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

log() { printf 'kind-base: %s\n' "$*" >&2; }
die() { printf 'kind-base: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

# Temp dirs and background jobs are cleaned up however we exit.
TMPS=()
PIDS=()
cleanup() {
  local rc=$? p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${TMPS[@]}"; do rm -rf "$p"; done
  # The build jobs run in subshells, which do not run this trap; their
  # temp dirs are only ours while we hold the lock.
  if [[ -n "${LOCKED:-}" && $rc -ne 0 ]]; then
    rm -rf "${ROOTFS:-/nonexistent}.tmp" "${BIN_DIR:-/nonexistent}"/*.tmp
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mktempd() { # PARENT PREFIX -> new dir, removed on exit
  mkdir -p "$1"
  local d; d=$(mktemp -d "$1/$2.XXXXXX")
  TMPS+=("$d")
  printf '%s\n' "$d"
}

command -v go >/dev/null || die "go not found (run scripts/setup.sh)"
command -v docker >/dev/null || die "docker not found (run scripts/setup.sh)"
GOVERSION=$(go env GOVERSION)
GOCACHE_DIR=${SLIPWAY_KIND_GOCACHE:-$(go env GOCACHE)}

# --- the tag: a hash of every input ------------------------------------------
inputs_sum() {
  {
    printf 'script %s\n' "$(sha256sum <"$SELF" | cut -c1-64)"
    (cd "$FILES" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    (cd "$FILES" && find . -type f -perm -u+x -print0 | LC_ALL=C sort -z | tr '\0' '\n')
    printf '%s\n' "$KIND_VERSION" "$SUITE" "$ROOTFS_RECIPE" "$GOVERSION" \
      "$CONTAINERD_VERSION" "$RUNC_VERSION" "$CRICTL_VERSION" "$CNI_PLUGINS_VERSION" \
      "$FUSE_OVERLAYFS_VERSION" "${PACKAGES[*]}" "$CONTAINERD_TAGS"
    sha256sum <"$HOST_CA" 2>/dev/null || echo no-ca
  } | sha256sum | cut -c1-12
}
SUM=$(inputs_sum)
REF="$REPO:$KIND_VERSION-$SUM"

image_present() { docker image inspect "$1" >/dev/null 2>&1; }

if [[ "${SLIPWAY_KIND_REBUILD:-}" != 1 ]] && image_present "$REF"; then
  log "ok: $REF (cached)"
  printf '%s\n' "$REF"
  exit 0
fi

[[ $EUID -eq 0 ]] || die "run as root (debootstrap, chroot-free rootfs assembly)"
mkdir -p "$WORK"
# One builder at a time (the node-image script and tests may call us at once).
exec 8>"$WORK/.lock"
flock -w 1800 8 || die "another kind base build has held $WORK/.lock for 30 minutes"
LOCKED=1
if [[ "${SLIPWAY_KIND_REBUILD:-}" != 1 ]] && image_present "$REF"; then
  log "ok: $REF (built by a concurrent run)"
  printf '%s\n' "$REF"
  exit 0
fi

T0=$(now)
log "building $REF (kind $KIND_VERSION base, debian $SUITE, containerd $CONTAINERD_VERSION, runc $RUNC_VERSION)"

# --- 1. Debian rootfs (debootstrap, cached) ----------------------------------
ROOTFS_KEY=$(printf '%s\n' "$SUITE" "$ROOTFS_RECIPE" "${PACKAGES[*]}" | sha256sum | cut -c1-10)
ROOTFS="$CACHE_DIR/rootfs/kind-base-$SUITE-$ROOTFS_KEY"

build_rootfs() {
  [[ -f "$ROOTFS/.slipway-complete" ]] && { log "rootfs: cached ($ROOTFS)"; return; }
  command -v debootstrap >/dev/null || die "debootstrap not found (run scripts/setup.sh)"
  local t0 tmp inc; t0=$(now)
  mkdir -p "$CACHE_DIR/rootfs" "$CACHE_DIR/debs"
  tmp="$ROOTFS.tmp"
  rm -rf "$tmp"
  inc=$(IFS=,; echo "${PACKAGES[*]}")
  log "rootfs: debootstrap $SUITE (+${#PACKAGES[@]} packages)"
  if ! debootstrap --variant=minbase --include="$inc" --cache-dir="$CACHE_DIR/debs" \
      "$SUITE" "$tmp" "$MIRROR" >"$ROOTFS.log" 2>&1; then
    tail -n 20 "$ROOTFS.log" >&2
    die "debootstrap $SUITE failed (log: $ROOTFS.log)"
  fi
  # What kind's Dockerfile does after clean-install (same order), done once
  # here on the cached tree so that the image step only adds files.
  find "$tmp/lib/systemd/system/sysinit.target.wants/" -name "systemd-tmpfiles-setup.service" -delete
  rm -f "$tmp"/lib/systemd/system/multi-user.target.wants/* \
    "$tmp"/etc/systemd/system/*.wants/* \
    "$tmp"/lib/systemd/system/local-fs.target.wants/* \
    "$tmp"/lib/systemd/system/sockets.target.wants/*udev* \
    "$tmp"/lib/systemd/system/sockets.target.wants/*initctl* \
    "$tmp"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$tmp/etc/systemd/journald.conf"
  ln -sfn /usr/lib/systemd/systemd "$tmp/usr/sbin/init"
  # clean-install's clean-up.
  rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/cache/apt/*.bin \
    "$tmp"/var/cache/debconf/*-old "$tmp"/var/lib/apt/lists/* "$tmp"/var/log/* \
    "$tmp"/tmp/* "$tmp"/var/tmp/* "$tmp"/usr/share/doc/* "$tmp"/usr/share/doc-base/* \
    "$tmp"/usr/share/man/* "$tmp"/usr/share/local/* "$tmp"/debootstrap
  # The image gets a fresh machine-id from the entrypoint.
  : >"$tmp/etc/machine-id"
  touch "$tmp/.slipway-complete"
  rm -rf "$ROOTFS"
  mv "$tmp" "$ROOTFS"
  log "rootfs: done ($(( $(now) - t0 ))s)"
}

# --- 2. Go binaries (parallel, cached by version and flags) ------------------
BIN_DIR="$CACHE_DIR/kind-image/bin"

# go_component NAME CGO LDFLAGS TAGS EXTRAFLAGS PKG@VERSION...
# Installs the packages into $BIN_DIR/NAME-KEY/ unless already there. KEY
# hashes everything that changes the output.
go_component() {
  local name=$1 cgo=$2 ldflags=$3 tags=$4 extra=$5; shift 5
  local key out t0
  key=$(printf '%s\n' "$GOVERSION" "$cgo" "$ldflags" "$tags" "$extra" "$@" | sha256sum | cut -c1-10)
  out="$BIN_DIR/$name-$key"
  if [[ -f "$out/.complete" ]]; then
    log "go: $name cached"
    printf '%s\n' "$out" >"$BIN_DIR/$name.current"
    return
  fi
  t0=$(now)
  rm -rf "$out.tmp"
  mkdir -p "$out.tmp"
  # shellcheck disable=SC2086 # $extra is a list of flags
  if ! GOBIN="$out.tmp" CGO_ENABLED="$cgo" GOCACHE="$GOCACHE_DIR" GOFLAGS= GOTOOLCHAIN=local \
      nice -n "${SLIPWAY_KIND_NICE:-0}" go install -trimpath $extra ${tags:+-tags "$tags"} -ldflags "$ldflags" "$@" \
      >"$BIN_DIR/$name.log" 2>&1; then
    cat "$BIN_DIR/$name.log" >&2
    rm -rf "$out.tmp"
    return 1
  fi
  touch "$out.tmp/.complete"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  printf '%s\n' "$out" >"$BIN_DIR/$name.current"
  log "go: $name built ($(( $(now) - t0 ))s)"
}

ensure_libseccomp() {
  # runc links libseccomp statically (cgo); libseccomp-dev has the .a.
  [[ -f /usr/lib/x86_64-linux-gnu/libseccomp.a || -n "$(find /usr/lib -name libseccomp.a -print -quit 2>/dev/null)" ]] && return
  log "installing libseccomp-dev (runc's seccomp support)"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends libseccomp-dev gcc libc6-dev >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=600 update -qq && \
         apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends libseccomp-dev gcc libc6-dev >/dev/null; } \
    || die "installing libseccomp-dev failed"
}

build_containerd() {
  local x="-X $CONTAINERD_MOD/version"
  go_component containerd 0 \
    "-s -w $x.Version=$CONTAINERD_VERSION $x.Revision=$CONTAINERD_VERSION-gomod $x.Package=github.com/containerd/containerd/v2" \
    "$CONTAINERD_TAGS" "" \
    "$CONTAINERD_MOD/cmd/containerd@$CONTAINERD_VERSION" \
    "$CONTAINERD_MOD/cmd/ctr@$CONTAINERD_VERSION" \
    "$CONTAINERD_MOD/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
}
build_runc() {
  # runc's `make static`: cgo (libcontainer/nsenter is C, seccomp via
  # libseccomp), static PIE so it runs on any glibc.
  ensure_libseccomp
  go_component runc 1 \
    "-X main.gitCommit=$RUNC_VERSION-gomod -linkmode external -extldflags -static-pie" \
    "seccomp urfave_cli_no_docs netgo osusergo" "-buildmode=pie" \
    "$RUNC_MOD@$RUNC_VERSION"
}
build_crictl() {
  go_component crictl 0 "-s -w -X $CRICTL_MOD/pkg/version.Version=$CRICTL_VERSION" "" "" \
    "$CRICTL_MOD/cmd/crictl@$CRICTL_VERSION"
}
build_cni() {
  # kind ships only these four plugins.
  go_component cni 0 "-s -w -X $CNI_MOD/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" "" "" \
    "$CNI_MOD/plugins/ipam/host-local@$CNI_PLUGINS_VERSION" \
    "$CNI_MOD/plugins/main/loopback@$CNI_PLUGINS_VERSION" \
    "$CNI_MOD/plugins/main/ptp@$CNI_PLUGINS_VERSION" \
    "$CNI_MOD/plugins/meta/portmap@$CNI_PLUGINS_VERSION"
}
build_fuse() {
  go_component fuse-overlayfs 0 \
    "-s -w -X $FUSE_MOD/cmd/containerd-fuse-overlayfs-grpc/version.Version=$FUSE_OVERLAYFS_VERSION" "" "" \
    "$FUSE_MOD/cmd/containerd-fuse-overlayfs-grpc@$FUSE_OVERLAYFS_VERSION"
}

# Run every build at once; the rootfs (network, disk) overlaps the compiles
# (CPU). Failures are collected after all have finished.
mkdir -p "$BIN_DIR"
declare -A JOBS=()
for job in build_rootfs build_containerd build_runc build_crictl build_cni build_fuse; do
  "$job" &
  JOBS[$job]=$!
  PIDS+=($!)
done
failed=()
for job in "${!JOBS[@]}"; do
  wait "${JOBS[$job]}" || failed+=("$job")
done
PIDS=()
((${#failed[@]} == 0)) || die "failed: ${failed[*]}"
bin_of() { cat "$BIN_DIR/$1.current"; }

# --- 3. assemble: hard-linked copy of the rootfs + kind's files + binaries --
STAGE=$(mktempd "$WORK" stage)
ROOT="$STAGE/root"
# Hard links: no data copied. Files that the image changes are replaced
# (rm, then written), never written through, so the cached tree stays clean.
cp -al "$ROOTFS" "$ROOT"
rm -f "$ROOT/.slipway-complete"

put() { # MODE SRC DST (DST relative to the image root)
  rm -f "$ROOT/$3"
  install -D -m "$1" "$2" "$ROOT/$3"
}
# Static files with kind's modes: scripts 0755, everything else 0644.
while IFS= read -r -d '' f; do
  rel=${f#"$FILES"/}
  case "$rel" in
    usr/local/bin/* | kind/bin/*) put 0755 "$f" "$rel" ;;
    LICENSES/*) put 0644 "$f" "LICENSES/${rel#LICENSES/}" ;;
    *) put 0644 "$f" "$rel" ;;
  esac
done < <(find "$FILES" -type f -print0)
chmod 0755 "$ROOT/kind" "$ROOT/kind/bin"

# systemctl enable / mask, as the symlinks they would make.
WANTS="$ROOT/etc/systemd/system/multi-user.target.wants"
mkdir -p "$WANTS"
for u in kubelet.service containerd.service undo-mount-hacks.service; do
  ln -sfn "/etc/systemd/system/$u" "$WANTS/$u"
done
ln -sfn /dev/null "$ROOT/etc/systemd/system/systemd-binfmt.service"
mkdir -p "$ROOT/etc/kubernetes/manifests" "$ROOT/opt/cni/bin"

CTRD=$(bin_of containerd)
for b in containerd ctr containerd-shim-runc-v2; do put 0755 "$CTRD/$b" "usr/local/bin/$b"; done
put 0755 "$(bin_of runc)/runc" usr/local/sbin/runc
put 0755 "$(bin_of crictl)/crictl" usr/local/bin/crictl
for b in host-local loopback ptp portmap; do put 0755 "$(bin_of cni)/$b" "opt/cni/bin/$b"; done
put 0755 "$(bin_of fuse-overlayfs)/containerd-fuse-overlayfs-grpc" usr/local/bin/containerd-fuse-overlayfs-grpc

# kind: ctr oci spec | add the product-files hook | drop rlimits.
"$CTRD/ctr" oci spec \
  | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
  | jq 'del(.process.rlimits)' >"$STAGE/cri-base.json"
put 0644 "$STAGE/cri-base.json" etc/containerd/cri-base.json
"$CTRD/containerd" --version >&2
"$(bin_of runc)/runc" --version >&2

# Licences of what we built (kind collects them with go-licenses).
gomod_dir() { GOFLAGS= go mod download -json "$1" | jq -r .Dir; }
for m in "$CONTAINERD_MOD@$CONTAINERD_VERSION" "$RUNC_MOD@$RUNC_VERSION" "$CRICTL_MOD@$CRICTL_VERSION" \
    "$CNI_MOD@$CNI_PLUGINS_VERSION" "$FUSE_MOD@$FUSE_OVERLAYFS_VERSION"; do
  d=$(cd "$STAGE" && gomod_dir "$m") || die "go mod download $m"
  put 0644 "$d/LICENSE" "LICENSES/${m%@*}/LICENSE"
done

# The host CA bundle, as in the other slipway base images: HTTPS from this
# machine is re-signed by a local CA.
[[ -f "$HOST_CA" ]] && put 0644 "$HOST_CA" etc/ssl/certs/ca-certificates.crt

# The tag must name what was assembled: refuse if an input changed meanwhile.
[[ "$(inputs_sum)" == "$SUM" ]] || die "inputs changed during the build (files under $FILES or this script); run again"

# --- 4. one squashed layer, kind's image metadata ----------------------------
log "importing $REF"
# docker import (20.10) takes no STOPSIGNAL: import under a temporary name,
# then a metadata-only build (no new layer) adds it.
TMPREF="$REPO:import-$SUM-$$"
untag_tmp() { docker rmi "$TMPREF" >/dev/null 2>&1 || true; }
tar -C "$ROOT" --numeric-owner -c . \
  | docker import \
      --change 'ENV container=docker' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' \
      --message "slipway kind base $KIND_VERSION ($SUM)" - "$TMPREF" >/dev/null \
  || { untag_tmp; die "docker import $REF failed"; }
# systemd exits on SIGRTMIN+3, not SIGTERM (kind's Dockerfile).
if ! printf '%s\n' "FROM $TMPREF" 'STOPSIGNAL SIGRTMIN+3' \
    "LABEL io.slipway.kind.base.inputs=$SUM io.slipway.kind.version=$KIND_VERSION io.slipway.kind.base.containerd=$CONTAINERD_VERSION" \
    | DOCKER_BUILDKIT=0 docker build -q -t "$REF" - >"$STAGE/build.log" 2>&1; then
  cat "$STAGE/build.log" >&2
  untag_tmp
  die "docker build (metadata) $REF failed"
fi
untag_tmp
log "built $REF ($(( $(now) - T0 ))s)"
printf '%s\n' "$REF"
