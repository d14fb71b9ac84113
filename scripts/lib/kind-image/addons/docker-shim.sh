#!/usr/bin/env bash
# docker-shim.sh - installed as `docker` in front of the real one (whose path
# is in SLIPWAY_REAL_DOCKER) while `kind build node-image` runs, for two waits
# in kind's builder that are wrong here. Every other command goes straight to
# the real docker.
#  - kind `docker pull`s the base image first and, on failure, retries four
#    times with 1+2+3+4 s of sleep before using the local image anyway: the
#    shim answers that pull from the local image store.
#  - kind starts containerd in the build container and gives it 6 s to create
#    its socket, which a loaded machine misses: the shim returns from that
#    start only once the socket is there (at most 120 s).
real=${SLIPWAY_REAL_DOCKER:?SLIPWAY_REAL_DOCKER is not set}
if [[ "${1:-}" == pull ]]; then
  for a in "${@:2}"; do
    [[ "$a" == -* ]] && continue
    exec "$real" image inspect "$a" >/dev/null
  done
fi
if [[ "${1:-}" == exec && "$*" == *"nohup containerd"* ]]; then
  "$real" "$@" || exit
  prev='' id=''
  for a in "${@:2}"; do # docker exec [flags] ID bash -c '...'
    if [[ "$a" == bash ]]; then id=$prev; break; fi
    prev=$a
  done
  for _ in $(seq 240); do
    "$real" exec "$id" test -S /run/containerd/containerd.sock 2>/dev/null && exit 0
    sleep 0.5
  done
  exit 0
fi
exec "$real" "$@"
