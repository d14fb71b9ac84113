#!/usr/bin/env bash
# buildkit-image.sh - a BuildKit image for buildx's kubernetes driver, built
# here (nothing is pulled): the local Debian base + the buildkitd and buildctl
# that scripts/setup.sh built from the pinned moby/buildkit module
# (scripts/lib/setup-buildkit.sh) + Debian's runc from this host.
#
#   buildkit-image.sh            build it if missing; the last stdout line is
#                                the image reference
#
# The tag carries BuildKit's version and a hash of every input (binaries,
# Dockerfile, base image ID), so a rebuilt buildkitd gives a new tag and the
# Kind nodes' IfNotPresent pull policy never runs a stale image. Never
# "latest": a :latest tag makes Kubernetes pull (Always), and nothing can.
#
# What buildx's kubernetes driver needs from the image: buildkitd as the
# entrypoint (the Deployment passes only args), buildctl on PATH (the readiness
# probe runs `buildctl debug workers`; buildx reaches the daemon with
# `kubectl exec ... buildctl dial-stdio`), and a runc for the OCI worker.
# Its config comes from `docker buildx create --buildkitd-config`, which buildx
# mounts at /etc/buildkit/buildkitd.toml.
#
# Environment: SLIPWAY_TOOLS_DIR (buildkitd/buildctl, as setup.sh),
# SLIPWAY_BUILDKIT_IMAGE_REPO (default slipway.local/buildkit),
# SLIPWAY_BUILDKIT_IMAGE_BASE (default slipway.local/base/debian:bookworm),
# SLIPWAY_BUILDKIT_IMAGE_RUNC (default: runc on PATH). Idempotent.
set -euo pipefail

TOOLS_DIR=${SLIPWAY_TOOLS_DIR:-/usr/local/lib/slipway/bin}
REPO=${SLIPWAY_BUILDKIT_IMAGE_REPO:-slipway.local/buildkit}
BASE=${SLIPWAY_BUILDKIT_IMAGE_BASE:-slipway.local/base/debian:bookworm}
export PATH="$TOOLS_DIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

BUILDKITD="$TOOLS_DIR/buildkitd"
BUILDCTL="$TOOLS_DIR/buildctl"
RUNC=${SLIPWAY_BUILDKIT_IMAGE_RUNC:-$(command -v runc || true)}
[[ -x "$BUILDKITD" && -x "$BUILDCTL" ]] || die "buildkitd/buildctl not found in $TOOLS_DIR (run scripts/setup.sh)"
[[ -n "$RUNC" && -x "$RUNC" ]] || die "runc not found (apt-get install runc, or set SLIPWAY_BUILDKIT_IMAGE_RUNC)"
base_id=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) || die "base image $BASE is not in the engine (run scripts/setup.sh)"

# "buildkitd github.com/moby/buildkit v0.34.2 v0.34.2" -> v0.34.2
version=$("$BUILDKITD" --version | awk '{print $3}')
[[ -n "$version" ]] || die "$BUILDKITD --version said nothing"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$BUILDKITD" "$BUILDCTL" "$ctx/"
cp "$(readlink -f "$RUNC")" "$ctx/runc"
cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
# runc links libseccomp.so.2, which the Debian base already has (apt needs it).
COPY runc buildkitd buildctl /usr/bin/
# The driver mounts an emptyDir here (the OCI worker's snapshots must not sit
# on the container's own overlay).
VOLUME /var/lib/buildkit
ENTRYPOINT ["buildkitd"]
EOF
sum=$( (cd "$ctx" && sha256sum Dockerfile buildkitd buildctl runc; echo "$base_id") | sha256sum | cut -c1-12)
ref="$REPO:$version-$sum"

if ! docker image inspect "$ref" >/dev/null 2>&1; then
  tar -C "$ctx" -c Dockerfile buildkitd buildctl runc |
    DOCKER_BUILDKIT=0 docker build -q --label "dev.slipway.buildkit-image.inputs=$sum" -t "$ref" - >/dev/null 2>"$ctx/err" ||
    { cat "$ctx/err" >&2; die "building $ref failed"; }
  # the image must run: buildkitd and runc print their versions
  docker run --rm --entrypoint /bin/sh "$ref" -c 'buildkitd --version && buildctl --version && runc --version' >&2 ||
    die "$ref does not run its binaries"
fi
printf '%s\n' "$ref"
