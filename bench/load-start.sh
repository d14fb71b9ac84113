#!/usr/bin/env bash
# bench/load-start.sh METHOD CLUSTER REF...: a cold load of the refs into
# CLUSTER's nodes by METHOD, then bench/first-start.sh (a first container
# start from every ref on every node); prints "load_s=L start_s=S" last.
#   floor           bench/node-import.sh (one save, unpacking imports at once)
#   kind            kind load docker-image --name CLUSTER REF...
#   slipway         $SLIPWAY load -f $FLEET --cluster CLUSTER REF... (default unpack mode)
#   slipway-unpack  the same with SLIPWAY_KIND_UNPACK=at-import
#   slipway-defer   the same with SLIPWAY_KIND_UNPACK=on-first-use
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
method=${1:?usage: load-start.sh METHOD CLUSTER REF...} cluster=${2:?}
shift 2
now() { date +%s.%N; }
t0=$(now)
case $method in
  floor) "$here/node-import.sh" "$cluster" "$@" ;;
  kind) kind load docker-image --name "$cluster" "$@" >/dev/null ;;
  slipway) "${SLIPWAY:?}" load -f "${FLEET:?}" --cluster "$cluster" "$@" ;;
  slipway-unpack) SLIPWAY_KIND_UNPACK=at-import "${SLIPWAY:?}" load -f "${FLEET:?}" --cluster "$cluster" "$@" ;;
  slipway-defer) SLIPWAY_KIND_UNPACK=on-first-use "${SLIPWAY:?}" load -f "${FLEET:?}" --cluster "$cluster" "$@" ;;
  *) echo "load-start: unknown method $method" >&2; exit 2 ;;
esac
t1=$(now)
"$here/first-start.sh" "$cluster" "$@"
t2=$(now)
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "load_s=%.3f start_s=%.3f\n", b - a, c - b }'
