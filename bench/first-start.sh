#!/usr/bin/env bash
# bench/first-start.sh CLUSTER REF...: the first container start from every
# ref on every node of CLUSTER, all at once (as a kubelet starts a pod per
# image), with `ctr run --rm` in the node. An image imported without
# unpacking is unpacked here; one unpacked at import starts at once. The
# fleet's images print "<service> ok" and exit.
set -euo pipefail
cluster=${1:?usage: first-start.sh CLUSTER REF...}
shift
mapfile -t nodes < <(docker ps --filter "label=io.x-k8s.kind.cluster=$cluster" --format '{{.Names}}' | sort)
((${#nodes[@]} > 0)) || { echo "first-start: cluster $cluster has no nodes" >&2; exit 1; }

# full REF: the name containerd stores a docker-style short name under.
full() {
  local r=$1 first=${1%%/*}
  if [[ $r != */* ]]; then echo "docker.io/library/$r"
  elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then echo "docker.io/$r"
  else echo "$r"; fi
}

pids=() i=0
for n in "${nodes[@]}"; do
  snap=$(docker exec "$n" containerd config dump 2>/dev/null | sed -n -E "s/^ *snapshotter = [\"']([^\"']+)[\"'].*/\\1/p" | head -1)
  for r in "$@"; do
    i=$((i + 1))
    docker exec "$n" ctr --namespace=k8s.io run --rm --snapshotter="${snap:-overlayfs}" "$(full "$r")" "first-start-$$-$i" >/dev/null &
    pids+=($!)
  done
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
