#!/usr/bin/env bash
# kubernetes.sh - Kubernetes built here from the k8s.io/kubernetes Go module,
# for kind's tarball node-image builder (`kind build node-image --type file`).
#
#   kubernetes.sh bin
#       Builds, in ONE `go build` (the packages the commands share compile
#       once), every Go binary the node image needs from the wrapper module
#       k8s/ (see k8s/go.mod for why a wrapper): kubelet, kubeadm, kubectl,
#       kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
#       and the addons' etcd, coredns, kindnetd, pause, local-path-provisioner
#       plus the kind-archive helper. Cached by a hash of the module, flags
#       and Go version; prints the binary directory (last stdout line).
#
#   kubernetes.sh tarball BIN_DIR ADDON_REFS OUT.tar.gz TOOLS_IMAGE
#       Makes the control-plane images (registry.k8s.io/<component>-amd64:
#       <version>, what the release tarball carries and kind re-tags without
#       the arch suffix) and packs a kubernetes-server-linux-amd64.tar.gz-
#       shaped tarball: kubernetes/version, kubernetes/server/bin/{kubelet,
#       kubeadm,kubectl,<component>.tar,<component>.docker_tag}. The images
#       named in the file ADDON_REFS (addons.sh) go into kube-proxy.tar: kind's builder imports
#       only those four archives and pulls every other image kubeadm and its
#       manifests need unless an archive already holds it.
#
#   kubernetes.sh version      prints the pinned Kubernetes version.
#
# Progress goes to stderr. Environment: SLIPWAY_CACHE_DIR (/var/cache/slipway),
# SLIPWAY_KIND_GOCACHE (go env GOCACHE), SLIPWAY_KIND_NICE (niceness of the
# compile, 0), SLIPWAY_KIND_GO_P (go build -p: parallel compiles; Go's default
# is the CPU count — more only helps to win CPU from other loads).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
MOD="$HERE/k8s"
CACHE_DIR=${SLIPWAY_CACHE_DIR:-/var/cache/slipway}
BIN_CACHE="$CACHE_DIR/kind-image/k8s-bin"
export PATH="/usr/local/go/bin:$PATH"

# --- pins ---------------------------------------------------------------------
# kind v0.33.0's default node is v1.37.0; v1.37.2 is the nearest release the Go
# module proxy serves (and the newest patch of that minor).
KUBE_VERSION=v1.37.2
KUBE_COMMIT=0000000000000000000000000000000000000000 # no git here: the module zip
BUILD_DATE=2026-01-01T00:00:00Z                      # fixed: reproducible binaries
LOCAL_PATH_VERSION=v0.0.30                           # newest served (kind builds v0.0.34)

log() { printf 'kind-k8s: %s\n' "$*" >&2; }
die() { printf 'kind-k8s: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

TMPS=()
cleanup() {
  local rc=$? d
  for d in "${TMPS[@]}"; do rm -rf "$d"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The commands, as `go build` package paths.
PKGS=(
  k8s.io/kubernetes/cmd/kubelet
  k8s.io/kubernetes/cmd/kubeadm
  k8s.io/kubernetes/cmd/kubectl
  k8s.io/kubernetes/cmd/kube-apiserver
  k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kube-scheduler
  k8s.io/kubernetes/cmd/kube-proxy
  ./cmd/etcd
  ./cmd/coredns
  ./cmd/kindnetd
  ./cmd/pause
  ./cmd/kind-archive
)
# A second `go build` (same module, so the shared packages come from the
# cache): local-path-provisioner imports github.com/Sirupsen/logrus, which
# collides case-insensitively with the github.com/sirupsen/logrus of the
# others, and Go refuses both in one build.
PKGS2=(github.com/rancher/local-path-provisioner)
CONTROL_PLANE=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy)

ldflags() {
  local minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  local f="-s -w" p
  # What hack/lib/version.sh sets: kubeadm, the kubelet and `kubectl version`
  # report gitVersion; kind reads the version from kubernetes/version.
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    f+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    f+=" -X $p.gitCommit=$KUBE_COMMIT -X $p.gitTreeState=clean -X $p.buildDate=$BUILD_DATE"
  done
  f+=" -X main.VERSION=$LOCAL_PATH_VERSION -X main.version=$(pause_version)"
  printf '%s' "$f"
}

# pause_version: the pause tag kubeadm asks for (its constants).
pause_version() {
  local f
  f="$(go env GOMODCACHE)/k8s.io/kubernetes@$KUBE_VERSION/cmd/kubeadm/app/constants/constants.go"
  [[ -f "$f" ]] || (cd "$MOD" && GOFLAGS=-mod=mod go mod download k8s.io/kubernetes) >&2
  sed -n 's/^\s*PauseVersion = "\(.*\)"/\1/p' "$f"
}

bin_key() {
  {
    go env GOVERSION
    printf '%s\n' "${PKGS[@]}" "${PKGS2[@]}" "$(ldflags)"
    (cd "$MOD" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-12
}

cmd_bin() {
  command -v go >/dev/null || die "go not found (run scripts/setup.sh)"
  local key out t0 tmp
  key=$(bin_key)
  out="$BIN_CACHE/$KUBE_VERSION-$key"
  if [[ -f "$out/.complete" ]]; then
    log "binaries: cached ($out)"
    printf '%s\n' "$out"
    return
  fi
  mkdir -p "$BIN_CACHE"
  # One compile at a time: a second caller waits and then finds it cached.
  exec 7>"$BIN_CACHE/.lock"
  flock -w 3600 7 || die "another Kubernetes build held $BIN_CACHE/.lock for an hour"
  if [[ -f "$out/.complete" ]]; then
    log "binaries: built by a concurrent run ($out)"
    printf '%s\n' "$out"
    return
  fi
  t0=$(now)
  tmp=$(mktemp -d "$BIN_CACHE/.build.XXXXXX")
  TMPS+=("$tmp")
  log "binaries: go build of ${#PKGS[@]} commands ($KUBE_VERSION; long on a cold build cache)"
  # -mod=mod: go.sum is complete in the repository; the flag only lets a Go
  # release that wants another go.sum shape build without a manual tidy.
  local pkgs
  for pkgs in "${PKGS[*]}" "${PKGS2[*]}"; do
    # shellcheck disable=SC2086 # a list of packages
    if ! (cd "$MOD" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local \
        GOCACHE="${SLIPWAY_KIND_GOCACHE:-$(go env GOCACHE)}" \
        nice -n "${SLIPWAY_KIND_NICE:-0}" go build ${SLIPWAY_KIND_GO_P:+-p "$SLIPWAY_KIND_GO_P"} -trimpath -ldflags "$(ldflags)" -o "$tmp/" $pkgs) \
        >"$tmp.log" 2>&1; then
      tail -n 40 "$tmp.log" >&2
      rm -f "$tmp.log"
      die "go build failed"
    fi
  done
  rm -f "$tmp.log"
  touch "$tmp/.complete"
  rm -rf "$out"
  mv "$tmp" "$out"
  # Older builds of other inputs are dead weight (about 700 MB each).
  find "$BIN_CACHE" -mindepth 1 -maxdepth 1 -type d -name 'v*' ! -path "$out" -exec rm -rf {} + 2>/dev/null || true
  log "binaries: built in $(( $(now) - t0 ))s ($out)"
  printf '%s\n' "$out"
}

# static_base CONTEXT: the files distroless/static gives Kubernetes' images
# (users, a CA bundle, /tmp), as a directory to COPY.
static_base() {
  local d=$1/rootfs
  mkdir -p "$d/etc/ssl/certs" "$d/tmp" "$d/usr/local/bin"
  chmod 1777 "$d/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$d/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$d/etc/group"
  printf 'hosts: files dns\n' >"$d/etc/nsswitch.conf"
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    cp /etc/ssl/certs/ca-certificates.crt "$d/etc/ssl/certs/"
  fi
}

# image_ref COMPONENT: the name the release tarball gives the image.
image_ref() { printf 'registry.k8s.io/%s-amd64:%s' "$1" "$KUBE_VERSION"; }

cmd_tarball() {
  local bin=$1 addons=$2 out=$3 tools=${4:?tools image (addons.sh tools)} t0 work c pids=() failed=0
  [[ -f "$bin/.complete" ]] || die "$bin is not a complete binary directory"
  [[ -s "$addons" ]] || die "addon image list $addons missing"
  t0=$(now)
  work=$(mktemp -d "${TMPDIR:-/tmp}/kind-k8s.XXXXXX")
  TMPS+=("$work")
  for c in "${CONTROL_PLANE[@]}"; do
    local ctx="$work/ctx-$c"
    mkdir -p "$ctx"
    cp "$bin/$c" "$ctx/$c"
    if [[ $c == kube-proxy ]]; then
      # kube-proxy programs iptables/nftables through their commands: it
      # needs Debian's iptables and nft (the real image is distroless-
      # iptables), from the addons' tools image.
      cat >"$ctx/Dockerfile" <<EOF
FROM $tools
COPY $c /usr/local/bin/$c
ENTRYPOINT ["/usr/local/bin/$c"]
LABEL io.slipway.kind-image.kubernetes=$KUBE_VERSION
EOF
    else
      static_base "$ctx"
      cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
COPY $c /usr/local/bin/$c
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
ENTRYPOINT ["/usr/local/bin/$c"]
LABEL io.slipway.kind-image.kubernetes=$KUBE_VERSION
EOF
    fi
    (docker build -q -t "$(image_ref "$c")" "$ctx" >/dev/null \
      && docker save "$(image_ref "$c")" | "$bin/kind-archive" >"$work/$c.single.tar") &
    pids+=($!)
  done
  for c in "${pids[@]}"; do wait "$c" || failed=1; done
  ((failed == 0)) || die "building the control-plane images failed"

  local root="$work/kubernetes" sb="$work/kubernetes/server/bin"
  mkdir -p "$sb"
  printf '%s\n' "$KUBE_VERSION" >"$root/version"
  for c in kubelet kubeadm kubectl; do cp "$bin/$c" "$sb/$c"; done
  for c in "${CONTROL_PLANE[@]}"; do
    printf '%s\n' "$KUBE_VERSION" >"$sb/$c.docker_tag"
    mv "$work/$c.single.tar" "$sb/$c.tar"
  done
  # kube-proxy.tar also carries the addon images (see the header).
  mapfile -t refs <"$addons"
  docker save "$(image_ref kube-proxy)" "${refs[@]}" | "$bin/kind-archive" >"$sb/kube-proxy.tar"
  mkdir -p "$(dirname "$out")"
  tar -C "$work" --owner=0 --group=0 --numeric-owner -c kubernetes | gzip -1 >"$out.tmp"
  mv "$out.tmp" "$out"
  log "tarball: $out ($(du -h "$out" | cut -f1), $(( $(now) - t0 ))s)"
}

case "${1:-}" in
  bin) cmd_bin ;;
  tarball) shift; cmd_tarball "$@" ;;
  version) printf '%s\n' "$KUBE_VERSION" ;;
  *) die "usage: $0 bin | tarball BIN_DIR ADDON_REFS OUT.tar.gz TOOLS_IMAGE | version" ;;
esac
