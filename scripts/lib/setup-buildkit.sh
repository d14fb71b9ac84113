#!/usr/bin/env bash
# setup-buildkit.sh - build and install a pinned buildkitd + buildctl.
#
# Called by scripts/setup.sh; safe to run on its own. Idempotent: when both
# binaries were already built from $BUILDKIT_VERSION it only runs `go version -m`.
#
# buildkit refuses `go install mod@version` (its go.mod has exclude
# directives), so the module source is fetched with `go mod download`, copied to
# a writable dir under $SLIPWAY_CACHE_DIR and built there with `go build`.
# The daemon is not started here: scripts/buildkit.sh does that.
#
# Keep BUILDKIT_VERSION in step with the moby/buildkit that the pinned buildx
# (BUILDX_VERSION in setup.sh) depends on: `go version -m .../buildx | grep buildkit`.
#
# Environment: SLIPWAY_TOOLS_DIR, SLIPWAY_CACHE_DIR (as in setup.sh).
set -euo pipefail

BUILDKIT_MOD=github.com/moby/buildkit
BUILDKIT_VERSION=v0.34.2

TOOLS_DIR=${SLIPWAY_TOOLS_DIR:-/usr/local/lib/slipway/bin}
CACHE_DIR=${SLIPWAY_CACHE_DIR:-/var/cache/slipway}
export PATH="$TOOLS_DIR:/usr/local/go/bin:/usr/local/bin:/usr/local/sbin:$PATH"

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

LDFLAGS="-s -w -X $BUILDKIT_MOD/version.Version=$BUILDKIT_VERSION -X $BUILDKIT_MOD/version.Revision=$BUILDKIT_VERSION -X $BUILDKIT_MOD/version.Package=$BUILDKIT_MOD"
# The tags upstream's Dockerfile uses for buildkitd (seccomp: default profile).
BUILDKITD_TAGS="osusergo netgo static_build seccomp"

# current BINARY CMDPKG: was BINARY built from CMDPKG with our ldflags (which
# carry the version)? Built from a directory, the main module shows as (devel).
current() {
  [[ -x "$1" ]] || return 1
  local info; info=$(go version -m "$1" 2>/dev/null) || return 1
  awk -v p="$2" '$1=="path" && $2==p {f=1} END {exit !f}' <<<"$info" || return 1
  [[ "$info" == *"-ldflags=\"$LDFLAGS\""* ]]
}

link_bins() {
  local b
  for b in buildkitd buildctl; do
    [[ "$(readlink "/usr/local/bin/$b" 2>/dev/null || true)" == "$TOOLS_DIR/$b" ]] \
      || ln -sfn "$TOOLS_DIR/$b" "/usr/local/bin/$b"
  done
}

main() {
  command -v go >/dev/null 2>&1 || die "go not found (expected /usr/local/go/bin/go)"
  if current "$TOOLS_DIR/buildkitd" "$BUILDKIT_MOD/cmd/buildkitd" &&
     current "$TOOLS_DIR/buildctl" "$BUILDKIT_MOD/cmd/buildctl"; then
    link_bins
    say "ok: buildkitd $BUILDKIT_VERSION"
    return
  fi

  local t0; t0=$(now)
  say "installing: buildkitd + buildctl $BUILDKIT_VERSION (go build, may take a few minutes)"
  local src="$CACHE_DIR/src/buildkit-$BUILDKIT_VERSION"
  if [[ ! -f "$src/.slipway-complete" ]]; then
    local dir
    dir=$(go mod download -json "$BUILDKIT_MOD@$BUILDKIT_VERSION" | jq -r '.Dir // empty')
    [[ -n "$dir" && -d "$dir" ]] || die "go mod download $BUILDKIT_MOD@$BUILDKIT_VERSION failed"
    mkdir -p "$CACHE_DIR/src"
    rm -rf "$src" "$src.tmp"
    cp -r "$dir" "$src.tmp"
    chmod -R u+w "$src.tmp"
    touch "$src.tmp/.slipway-complete"
    mv "$src.tmp" "$src"
  fi

  mkdir -p "$TOOLS_DIR"
  (
    cd "$src"
    export CGO_ENABLED=0 GOFLAGS=-mod=mod
    go build -tags "$BUILDKITD_TAGS" -ldflags "$LDFLAGS" -o "$TOOLS_DIR/buildkitd.tmp" ./cmd/buildkitd
    go build -ldflags "$LDFLAGS" -o "$TOOLS_DIR/buildctl.tmp" ./cmd/buildctl
  ) || die "building buildkit $BUILDKIT_VERSION failed"
  mv "$TOOLS_DIR/buildkitd.tmp" "$TOOLS_DIR/buildkitd"
  mv "$TOOLS_DIR/buildctl.tmp" "$TOOLS_DIR/buildctl"
  link_bins
  "$TOOLS_DIR/buildkitd" --version >/dev/null || die "buildkitd does not run"
  say "installed: buildkitd + buildctl $BUILDKIT_VERSION ($(( $(now) - t0 ))s)"
}

main "$@"
