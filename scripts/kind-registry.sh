#!/usr/bin/env bash
# kind-registry.sh - a throw-away registry (Debian's docker-registry, 2.8) as a
# container on Kind's docker network, published on the host's loopback: kind's
# own "local registry" layout, with an image built here (nothing is pulled).
#
#   kind-registry.sh start NAME PORT   run NAME on the `kind` network, published
#                                      on 127.0.0.1:PORT; prints "ADDRESS" (the
#                                      container's IP:5000 on the kind network)
#                                      as the last stdout line
#   kind-registry.sh stop NAME         remove it (and its storage)
#
# Why a container on the kind network rather than scripts/registry.sh on the
# host's loopback: the host (docker push, slipway's registry checks) reaches it
# at 127.0.0.1:PORT, which dockerd treats as insecure, so plain HTTP needs no
# daemon config; pods and node containerds reach it at its kind-network
# address, which a loopback registry is not; and nothing listens on the host's
# other interfaces.
#
# Environment: SLIPWAY_KIND_REGISTRY_BASE (default
# slipway.local/base/debian:bookworm), SLIPWAY_REGISTRY_BIN (default
# /usr/bin/docker-registry), SLIPWAY_KIND_NETWORK (default kind). Idempotent.
set -euo pipefail

BASE=${SLIPWAY_KIND_REGISTRY_BASE:-slipway.local/base/debian:bookworm}
REGISTRY_BIN=${SLIPWAY_REGISTRY_BIN:-/usr/bin/docker-registry}
NETWORK=${SLIPWAY_KIND_NETWORK:-kind}
READY_TIMEOUT=${SLIPWAY_REGISTRY_READY_TIMEOUT:-30}

usage() { sed -n '6,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# image: build slipway.local/registry:<version>-<inputs> if missing; print it.
image() {
  [[ -x "$REGISTRY_BIN" ]] || die "$REGISTRY_BIN not found (apt-get install docker-registry)"
  local base_id version ctx sum ref
  base_id=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) || die "base image $BASE is not in the engine (run scripts/setup.sh)"
  version=$(dpkg-query -W -f '${Version}' docker-registry 2>/dev/null | sed 's/+.*//') || true
  ctx=$(mktemp -d)
  cp "$REGISTRY_BIN" "$ctx/docker-registry"
  cat >"$ctx/config.yml" <<'EOF'
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
EOF
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
COPY docker-registry /usr/bin/docker-registry
COPY config.yml /etc/docker/registry/config.yml
VOLUME /var/lib/registry
EXPOSE 5000
ENTRYPOINT ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]
EOF
  sum=$( (cd "$ctx" && sha256sum Dockerfile config.yml docker-registry; echo "$base_id") | sha256sum | cut -c1-12)
  ref="slipway.local/registry:${version:-2}-$sum"
  if ! docker image inspect "$ref" >/dev/null 2>&1; then
    tar -C "$ctx" -c Dockerfile config.yml docker-registry |
      DOCKER_BUILDKIT=0 docker build -q -t "$ref" - >/dev/null 2>"$ctx/err" ||
      { cat "$ctx/err" >&2; rm -rf "$ctx"; die "building $ref failed"; }
  fi
  rm -rf "$ctx"
  printf '%s\n' "$ref"
}

address() { # NAME: its IP:5000 on the kind network
  local ip
  ip=$(docker inspect -f "{{with index .NetworkSettings.Networks \"$NETWORK\"}}{{.IPAddress}}{{end}}" "$1" 2>/dev/null) || return 1
  [[ -n "$ip" ]] || return 1
  printf '%s:5000\n' "$ip"
}

start() {
  local name=$1 port=$2 ref state
  docker network inspect "$NETWORK" >/dev/null 2>&1 || die "docker network $NETWORK does not exist (create a Kind cluster first)"
  ref=$(image)
  # reuse a running one only when it is this image, published on this port
  state=$(docker inspect -f '{{.State.Running}} {{.Config.Image}}' "$name" 2>/dev/null) || state=""
  state="$state $( (docker port "$name" 5000/tcp 2>/dev/null || true) | head -n1)"
  if [[ "$state" != "true $ref 127.0.0.1:$port" ]]; then
    docker rm -f -v "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" --network "$NETWORK" -p "127.0.0.1:$port:5000" \
      --label dev.slipway.kind-registry=1 "$ref" >/dev/null || die "starting $name failed"
  fi
  local deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; do
    ((SECONDS < deadline)) || { docker logs --tail 20 "$name" >&2 || true; die "$name did not answer on 127.0.0.1:$port"; }
    sleep 0.2
  done
  address "$name" || die "$name has no address on the $NETWORK network"
}

stop() {
  docker rm -f -v "$1" >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) [[ $# -eq 3 && "$3" =~ ^[0-9]+$ ]] || usage; start "$2" "$3" ;;
  stop) [[ $# -eq 2 ]] || usage; stop "$2" ;;
  image) image ;;
  *) usage ;;
esac
