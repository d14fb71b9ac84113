#!/usr/bin/env bash
# The whole test suite: make the machine ready (engine, tools, base images,
# the Kind node image built from source), then every unit and integration
# test with the race detector, the real-Kind-cluster tests last.
# Integration tests fail, never skip, when a component is missing.
#
# The node image is the long pole on a fresh machine (Kubernetes compiles
# from source): it builds in the background while the other tests run,
# since those mostly wait on the engine. Its log: $SLIPWAY_TEST_LOGS/node-image.log.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"
export PATH="$PATH:$(go env GOPATH)/bin"
logs=${SLIPWAY_TEST_LOGS:-$(mktemp -d /tmp/slipway-test.XXXXXX)}
mkdir -p "$logs"

node_pid=
stop_node_image() { [[ -n "$node_pid" ]] && kill -- "$node_pid" 2>/dev/null || true; }
trap stop_node_image EXIT
"$root/scripts/kind-node-image.sh" >"$logs/node-image.out" 2>"$logs/node-image.log" &
node_pid=$!

go vet ./...
# Everything but the real cluster's tests, while the node image builds.
mapfile -t pkgs < <(go list ./... | grep -v '/test/realkind$')
go test -race -count=1 -timeout 60m "$@" "${pkgs[@]}"
# Nested modules: the Ginkgo E2E example and the schema generator keep
# their dependencies out of the library's go.mod.
(cd tools/schemagen && go vet ./...)

echo "test.sh: waiting for the Kind node image (log: $logs/node-image.log)" >&2
if ! wait "$node_pid"; then
  node_pid=
  tail -n 40 "$logs/node-image.log" >&2
  echo "test.sh: scripts/kind-node-image.sh failed (log: $logs/node-image.log)" >&2
  exit 1
fi
node_pid=
SLIPWAY_REAL_NODE_IMAGE=$(tail -n 1 "$logs/node-image.out")
export SLIPWAY_REAL_NODE_IMAGE
echo "test.sh: node image $SLIPWAY_REAL_NODE_IMAGE" >&2
go test -race -count=1 -timeout 40m "$@" ./test/realkind/
# The Ginkgo example runs on Kind-shaped nodes and on a real cluster.
(cd examples/e2e && go vet ./... && go test -race -count=1 -timeout 20m ./... &&
  SLIPWAY_E2E_NODE_IMAGE="$SLIPWAY_REAL_NODE_IMAGE" go test -race -count=1 -timeout 30m ./...)
