#!/usr/bin/env bash
# kind-nodes.sh - Kind-shaped node containers without Kubernetes.
#
#   kind-nodes.sh create CLUSTER [N_WORKERS]   (default 1 worker)
#   kind-nodes.sh delete CLUSTER
#   kind-nodes.sh list   CLUSTER
#
# Nodes are containers named CLUSTER-control-plane, CLUSTER-worker,
# CLUSTER-worker2, ... labelled like kind's, running containerd with the CRI
# plugin, so `kind get nodes` and `kind load docker-image` work against them.
# Image: slipway.local/base/kind-node:bookworm (built by scripts/setup.sh).
# SLIPWAY_ENGINE=podman uses podman instead of docker (best effort).
set -euo pipefail

ENGINE=${SLIPWAY_ENGINE:-docker}
NODE_IMAGE=${SLIPWAY_NODE_IMAGE:-slipway.local/base/kind-node:bookworm}
READY_TIMEOUT=${SLIPWAY_NODE_READY_TIMEOUT:-60}
LABEL_CLUSTER=io.x-k8s.kind.cluster
LABEL_ROLE=io.x-k8s.kind.role

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

valid_name() { [[ "$1" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "invalid cluster name: $1"; }

node_names() { # CLUSTER N_WORKERS
  local c=$1 n=$2 i
  echo "$c-control-plane"
  for ((i = 1; i <= n; i++)); do
    if ((i == 1)); then echo "$c-worker"; else echo "$c-worker$i"; fi
  done
}

cluster_containers() { "$ENGINE" ps -a --filter "label=$LABEL_CLUSTER=$1" --format '{{.Names}}'; }

wait_ready() { # NODE
  local node=$1 deadline=$((SECONDS + READY_TIMEOUT))
  until "$ENGINE" exec "$node" crictl images >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      "$ENGINE" logs --tail 30 "$node" >&2 || true
      die "node $node: containerd CRI not ready after ${READY_TIMEOUT}s"
    fi
    if [[ "$("$ENGINE" inspect -f '{{.State.Running}}' "$node" 2>/dev/null)" != true ]]; then
      "$ENGINE" logs --tail 30 "$node" >&2 || true
      die "node $node exited"
    fi
    sleep 0.3
  done
}

create() {
  local cluster=$1 workers=${2:-1}
  valid_name "$cluster"
  [[ "$workers" =~ ^[0-9]+$ ]] || die "N_WORKERS must be a number"
  "$ENGINE" image inspect "$NODE_IMAGE" >/dev/null 2>&1 \
    || die "$NODE_IMAGE not found (run scripts/setup.sh)"
  if [[ -n "$(cluster_containers "$cluster")" ]]; then
    die "cluster $cluster already exists (kind-nodes.sh delete $cluster)"
  fi

  local node role nodes=()
  mapfile -t nodes < <(node_names "$cluster" "$workers")
  for node in "${nodes[@]}"; do
    role=worker
    [[ "$node" == *-control-plane ]] && role=control-plane
    "$ENGINE" volume create --label "$LABEL_CLUSTER=$cluster" "$node-containerd" >/dev/null
    "$ENGINE" run -d \
      --name "$node" --hostname "$node" \
      --label "$LABEL_CLUSTER=$cluster" --label "$LABEL_ROLE=$role" \
      --privileged \
      --tmpfs /run --tmpfs /tmp \
      -v "$node-containerd:/var/lib/containerd" \
      --restart=no \
      "$NODE_IMAGE" >/dev/null
  done
  for node in "${nodes[@]}"; do
    wait_ready "$node"
    echo "ready: $node"
  done
}

delete() {
  local cluster=$1 node
  valid_name "$cluster"
  local nodes=()
  mapfile -t nodes < <(cluster_containers "$cluster")
  if ((${#nodes[@]})); then
    "$ENGINE" rm -f -v "${nodes[@]}" >/dev/null
  fi
  # Named volumes are not removed by rm -v; remove ours by name.
  local vols=()
  mapfile -t vols < <("$ENGINE" volume ls -q | grep -E "^${cluster}-(control-plane|worker[0-9]*)-containerd\$" || true)
  if ((${#vols[@]})); then
    "$ENGINE" volume rm -f "${vols[@]}" >/dev/null
  fi
  for node in "${nodes[@]}"; do echo "deleted: $node"; done
}

[[ $# -ge 2 ]] || usage
cmd=$1; shift
case "$cmd" in
  create) [[ $# -le 2 ]] || usage; create "$@" ;;
  delete) [[ $# -eq 1 ]] || usage; delete "$1" ;;
  list) [[ $# -eq 1 ]] || usage; cluster_containers "$1" ;;
  *) usage ;;
esac
