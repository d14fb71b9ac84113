#!/usr/bin/env bash
# bench/node-import.sh CLUSTER REF...: the floor of a cold load (issue 11).
# One `docker save` of every ref, piped straight into `ctr images import`
# (unpacking, as `kind load docker-image` does) on every node of CLUSTER at
# once: no temp file, no second save, no check of what the nodes hold.
# Nothing can load the same bytes into the same nodes with less work.
set -euo pipefail
cluster=${1:?usage: node-import.sh CLUSTER REF...}
shift
mapfile -t nodes < <(docker ps --filter "label=io.x-k8s.kind.cluster=$cluster" --format '{{.Names}}' | sort)
((${#nodes[@]} > 0)) || { echo "node-import: cluster $cluster has no nodes" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pids=()
for n in "${nodes[@]}"; do
  snap=$(docker exec "$n" containerd config dump 2>/dev/null | sed -n -E "s/^ *snapshotter = [\"']([^\"']+)[\"'].*/\\1/p" | head -1)
  mkfifo "$dir/$n"
  docker exec -i "$n" ctr --namespace=k8s.io images import --snapshotter="${snap:-overlayfs}" - <"$dir/$n" >/dev/null &
  pids+=($!)
done
outs=()
for n in "${nodes[@]}"; do outs+=("$dir/$n"); done
# tee writes every fifo but the last; stdout goes to the last one.
docker save "$@" | tee "${outs[@]:0:${#outs[@]}-1}" >"${outs[-1]}"
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
