#!/usr/bin/env bash
# addons.sh - the images a kind node needs besides Kubernetes' own, built here
# from source (binaries from kubernetes.sh bin) under the exact names kind's
# node-image builder and kubeadm look for, so that nothing is pulled.
#
#   addons.sh tools
#       Builds the Debian tools image (iptables, nft, conntrack and a static
#       busybox, from Debian packages on top of setup.sh's
#       slipway.local/base/debian:bookworm) that kube-proxy's image is based
#       on and the local-path helper takes its shell from. Prints its ref.
#
#   addons.sh images BIN_DIR TOOLS_IMAGE SANDBOX_IMAGE OUT_REFS
#       Builds, in parallel:
#         etcd, coredns, pause    names from `kubeadm config images list` of
#                                 the built kubeadm (pause also as
#                                 SANDBOX_IMAGE, the one the base image's
#                                 containerd config names: kind replaces
#                                 kubeadm's pause by it);
#         kindnetd                k8s/cmd/kindnetd, a stand-in doing kindnetd's
#                                 CNI-config and routing job (kindnet's module
#                                 is not served), under kind's kindnetd name;
#         local-path-provisioner  rancher's, and local-path-helper (busybox
#                                 sh/mkdir/rm), under kind's names.
#       kind's names are read from the kind sources of the installed kind CLI's
#       version. Writes the image refs, one a line, to OUT_REFS.
#
# Progress goes to stderr.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
DEBIAN_BASE=${SLIPWAY_KIND_DEBIAN_BASE:-slipway.local/base/debian:bookworm}
TOOLS_REPO=slipway.local/kind-image/tools
export PATH="/usr/local/go/bin:$PATH"

log() { printf 'kind-addons: %s\n' "$*" >&2; }
die() { printf 'kind-addons: error: %s\n' "$*" >&2; exit 1; }
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
mktempd() {
  local d
  d=$(mktemp -d "${TMPDIR:-/tmp}/kind-addons.XXXXXX")
  TMPS+=("$d")
  printf '%s\n' "$d"
}

TOOLS_DOCKERFILE="FROM $DEBIAN_BASE
# Debian's iptables (nft backend by default, as on kind's nodes), nft and
# conntrack for kube-proxy; busybox-static for the local-path helper.
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      iptables nftables conntrack busybox-static ca-certificates >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
"

cmd_tools() {
  docker image inspect "$DEBIAN_BASE" >/dev/null 2>&1 \
    || die "$DEBIAN_BASE missing (run scripts/setup.sh)"
  local key ref ctx t0
  key=$( { docker image inspect -f '{{.Id}}' "$DEBIAN_BASE"; printf '%s' "$TOOLS_DOCKERFILE"; } | sha256sum | cut -c1-12)
  ref="$TOOLS_REPO:$key"
  if docker image inspect "$ref" >/dev/null 2>&1; then
    log "tools: cached ($ref)"
    printf '%s\n' "$ref"
    return
  fi
  t0=$(now)
  ctx=$(mktempd)
  printf '%s' "$TOOLS_DOCKERFILE" >"$ctx/Dockerfile"
  docker build -q -t "$ref" "$ctx" >/dev/null || die "building $ref failed"
  log "tools: built $ref ($(( $(now) - t0 ))s)"
  printf '%s\n' "$ref"
}

# kind_const NAME: a Go string constant from kind's node-image builder, at the
# version of the kind CLI that will run the build (its defaults are compiled
# in, so they, not go.mod's kind, decide what it looks for).
kind_const() {
  local v dir
  v=$(kind version | awk '{print $2}')
  dir=$(cd "$HERE" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@$v" | jq -r .Dir) \
    || die "go mod download sigs.k8s.io/kind@$v"
  sed -n "s/^const $1 = \"\\(.*\\)\"/\\1/p" "$dir"/pkg/build/nodeimage/const_*.go
}

# build REF CONTEXT: docker build, quietly.
build() {
  docker build -q -t "$1" "$2" >/dev/null || die "building $1 failed"
  log "image: $1"
}

# scratch_image REF BIN_DIR BINARY DEST [USER] [ARGS_JSON]: the binary alone
# (static, CGO_ENABLED=0), with the minimal files distroless/static has.
scratch_image() {
  local ref=$1 bin=$2 name=$3 dest=$4 user=${5:-0:0} ctx
  ctx=$(mktempd)
  mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp" "$ctx/rootfs/$(dirname "$dest")"
  chmod 1777 "$ctx/rootfs/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$ctx/rootfs/etc/group"
  printf 'hosts: files dns\n' >"$ctx/rootfs/etc/nsswitch.conf"
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
  cp "$bin/$name" "$ctx/rootfs/$dest"
  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
USER $user
ENTRYPOINT ["$dest"]
EOF
  build "$ref" "$ctx"
}

helper_image() {
  local ref=$1 tools=$2 ctx
  ctx=$(mktempd)
  cat >"$ctx/Dockerfile" <<EOF
FROM $tools AS tools
FROM scratch
COPY --from=tools /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
EOF
  build "$ref" "$ctx"
}

cmd_images() {
  local bin=$1 tools=$2 sandbox=$3 out=$4 t0 kubever list etcd coredns pause kindnetd lpp lph
  t0=$(now)
  [[ -f "$bin/.complete" ]] || die "$bin is not a complete binary directory"
  kubever=$("$HERE/kubernetes.sh" version)
  list=$("$bin/kubeadm" config images list --kubernetes-version "$kubever" 2>/dev/null) \
    || die "kubeadm config images list failed"
  etcd=$(grep '/etcd:' <<<"$list")
  coredns=$(grep '/coredns:' <<<"$list")
  pause=$(grep '/pause:' <<<"$list")
  kindnetd=$(kind_const kindnetdImage)
  lpp=$(kind_const storageProvisionerImage)
  lph=$(kind_const storageHelperImage)
  [[ -n "$etcd" && -n "$coredns" && -n "$pause" && -n "$kindnetd" && -n "$lpp" && -n "$lph" ]] \
    || die "could not read every image name (kubeadm: $list; kind: $kindnetd $lpp $lph)"

  local pids=() p failed=0
  scratch_image "$etcd" "$bin" etcd /usr/local/bin/etcd & pids+=($!)
  scratch_image "$coredns" "$bin" coredns /coredns & pids+=($!)
  # The real pause image runs as 65535.
  scratch_image "$pause" "$bin" pause /pause 65535:65535 & pids+=($!)
  scratch_image "$kindnetd" "$bin" kindnetd /bin/kindnetd & pids+=($!)
  scratch_image "$lpp" "$bin" local-path-provisioner /usr/local/bin/local-path-provisioner & pids+=($!)
  helper_image "$lph" "$tools" & pids+=($!)
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  ((failed == 0)) || die "building the addon images failed"
  if [[ "$sandbox" != "$pause" ]]; then
    docker tag "$pause" "$sandbox"
  fi
  printf '%s\n' "$etcd" "$coredns" "$pause" "$kindnetd" "$lpp" "$lph" | sort -u >"$out.tmp"
  [[ "$sandbox" == "$pause" ]] || printf '%s\n' "$sandbox" >>"$out.tmp"
  mv "$out.tmp" "$out"
  log "images: $(wc -l <"$out") addon images ($(( $(now) - t0 ))s)"
}

case "${1:-}" in
  tools) cmd_tools ;;
  images) shift; cmd_images "$@" ;;
  *) die "usage: $0 tools | images BIN_DIR TOOLS_IMAGE SANDBOX_IMAGE OUT_REFS" ;;
esac
