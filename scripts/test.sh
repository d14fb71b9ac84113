#!/usr/bin/env bash
# The whole test suite: make the machine ready (engine, tools, base images),
# then every unit and integration test with the race detector. Integration
# tests fail, never skip, when the engine is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"
export PATH="$PATH:$(go env GOPATH)/bin"
go vet ./...
go test -race -count=1 -timeout 40m "$@" ./...
# Nested modules: the Ginkgo E2E example and the schema generator keep
# their dependencies out of the library's go.mod.
(cd examples/e2e && go vet ./... && go test -race -count=1 -timeout 20m ./...)
(cd tools/schemagen && go vet ./...)
