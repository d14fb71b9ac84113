#!/usr/bin/env bash
# build-service-image.sh - build service images with slipway (drop-in for the old script).
#
# Usage:
#   build-service-image.sh SERVICE [SERVICE|GROUP ...] [--kind] [--push] [--tag T]
#       [--cleanup] [--multi-arch|--single-arch] [--cluster NAME] [-h|--help]
#
# Every SERVICE (or every service of a GROUP) is built in parallel by one
# `slipway build`, each under its own unique tag, in the current directory's
# repository (slipway finds slipway.yaml by walking up). For each service
# built, .last-image-tag-SERVICE.env is written in the current directory with
# IMAGE_TAG=, IMAGE= and SERVICE= lines.
#
# Options:
#   --kind            load each image into a Kind cluster once built
#   --cluster NAME    the cluster for --kind (else $KIND_CLUSTER_NAME, else
#                     SERVICE-test when one SERVICE is given, else the only
#                     cluster present)
#   --cleanup         with --kind, remove the local image once it is loaded
#   --push            push each image (passed to slipway build --push)
#   --tag T           use tag T for every image (else $IMAGE_TAG, else
#                     SERVICE-USER-GITSHORT-UNIXTIME)
#   --multi-arch      build for $PLATFORMS (default linux/amd64,linux/arm64)
#   --single-arch     build for this machine only (the default); the last of
#                     --multi-arch and --single-arch wins
#   -h, --help        print this help
#
# Environment: IMAGE_TAG, KIND_CLUSTER_NAME, MULTI_ARCH=true, PLATFORMS,
# SLIPWAY (the slipway binary; else slipway on PATH, else built from the
# repository this script lives in).
#
# Exit codes are slipway's: 0 ok, 1 a build or load failed, 2 bad usage,
# 130 interrupted.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
usage_error() {
  printf 'build-service-image.sh: %s\n' "$*" >&2
  printf "Try 'build-service-image.sh --help' for more information.\n" >&2
  exit 2
}

services=()
kind=false
push=false
cleanup=false
tag=
tag_set=false
cluster=
case "${MULTI_ARCH:-}" in
  true | TRUE | True | 1 | yes) multi_arch=true ;;
  *) multi_arch=false ;;
esac

while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --kind) kind=true ;;
    --push) push=true ;;
    --cleanup) cleanup=true ;;
    --multi-arch) multi_arch=true ;;
    --single-arch) multi_arch=false ;;
    --tag | --cluster)
      (($# >= 2)) || usage_error "$1 needs a value"
      [[ -n "$2" ]] || usage_error "$1 needs a non-empty value"
      if [[ "$1" == --tag ]]; then tag=$2; tag_set=true; else cluster=$2; fi
      shift ;;
    --tag=*)
      tag=${1#--tag=}; tag_set=true
      [[ -n "$tag" ]] || usage_error "--tag needs a non-empty value" ;;
    --cluster=*)
      cluster=${1#--cluster=}
      [[ -n "$cluster" ]] || usage_error "--cluster needs a non-empty value" ;;
    --) shift; services+=("$@"); break ;;
    -*) usage_error "unknown option: $1" ;;
    *) services+=("$1") ;;
  esac
  shift
done
((${#services[@]})) || usage_error "missing SERVICE"

# The slipway binary: $SLIPWAY, else slipway on PATH, else built from this
# repository (go build, not go run: go run turns every failure into exit 1).
slipway=${SLIPWAY:-}
if [[ -z "$slipway" ]]; then
  if command -v slipway >/dev/null 2>&1; then
    slipway=slipway
  else
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    [[ -f "$root/cmd/slipway/main.go" ]] || { echo "build-service-image.sh: slipway not found (set SLIPWAY or put slipway on PATH)" >&2; exit 2; }
    command -v go >/dev/null 2>&1 || { echo "build-service-image.sh: slipway not found and no go to build it (set SLIPWAY)" >&2; exit 2; }
    cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/slipway/bin
    mkdir -p "$cache"
    (cd "$root" && go build -o "$cache/slipway.$$" ./cmd/slipway) || { rm -f "$cache/slipway.$$"; exit 1; }
    mv -f "$cache/slipway.$$" "$cache/slipway"
    slipway=$cache/slipway
  fi
fi
command -v jq >/dev/null 2>&1 || { echo "build-service-image.sh: jq is needed (apt-get install jq)" >&2; exit 2; }

args=(build --progress plain)
if $tag_set; then args+=("--tag=$tag"); fi
if $kind; then
  [[ -n "$cluster" ]] || cluster=${KIND_CLUSTER_NAME:-}
  if [[ -z "$cluster" && ${#services[@]} -eq 1 ]]; then cluster="${services[0]}-test"; fi
  if [[ -n "$cluster" ]]; then args+=(--kind "--cluster=$cluster"); else args+=(--kind); fi
fi
if $cleanup; then args+=(--cleanup); fi
if $push; then args+=(--push); fi
if $multi_arch; then args+=("--platform=${PLATFORMS:-linux/amd64,linux/arm64}"); fi

meta=$(mktemp "${TMPDIR:-/tmp}/slipway-meta.XXXXXX")
envtmp=
trap 'rm -f -- "$meta" ${envtmp:+"$envtmp"}' EXIT

# Run slipway in the background so that INT and TERM sent to this script
# reach it too; it then stops its builds and exits 130.
"$slipway" "${args[@]}" --metadata-file "$meta" -- "${services[@]}" &
child=$!
got_signal=false
trap 'got_signal=true; kill -INT "$child" 2>/dev/null || true' INT
trap 'got_signal=true; kill -TERM "$child" 2>/dev/null || true' TERM HUP
rc=
while :; do
  got_signal=false
  r=0
  wait "$child" || r=$?
  # A re-wait after the status was already collected says 127: keep the status.
  if [[ -n "$rc" && $r -eq 127 ]]; then break; fi
  rc=$r
  # wait returns early when a trapped signal arrives: wait again for slipway.
  $got_signal || break
done
trap - INT TERM HUP

# One .env file per service that was built or reused (even when another
# service failed), written whole so that a reader never sees half of one.
if [[ -s "$meta" ]]; then
  while IFS=$'\t' read -r svc svc_tag svc_image; do
    if [[ ! "$svc" =~ ^[A-Za-z0-9_.-]+$ || "$svc" == .* ]]; then
      echo "build-service-image.sh: not writing an .env file for service $svc" >&2
      continue
    fi
    file=".last-image-tag-${svc}.env"
    envtmp="$file.tmp.$$"
    printf 'IMAGE_TAG=%s\nIMAGE=%s\nSERVICE=%s\n' "$svc_tag" "$svc_image" "$svc" >"$envtmp"
    mv -f "$envtmp" "$file"
    envtmp=
    echo "wrote $file (IMAGE=$svc_image)"
  done < <(jq -r '.services // {} | to_entries[]
      | select(.value.status == "built" or .value.status == "reused")
      | [.key, .value.tag, .value.image] | @tsv' "$meta")
fi
exit "$rc"
