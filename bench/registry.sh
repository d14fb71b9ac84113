#!/usr/bin/env bash
# bench/registry.sh: reuse across machines (issue 15). On a second dockerd
# (scripts/lib/dockerd2.sh: its own data root, socket and bridge — a
# colleague's laptop or a fresh CI runner), a full build of examples/fleet
# three ways, after the first engine pushed the fleet to a loopback registry:
#
#   cold        `slipway build --no-cache`, no registry: everything from source
#   reuse       `slipway build --registry R`: every service found by its
#               input-digest tag, pulled, no build (`reused (registry)`)
#   cache-only  `slipway build` with cache_from REGISTRY/IMAGE:buildcache
#               (a copy of the fleet's config with that cache_from, no
#               --registry, so no reuse): built, steps served from the cache
#
# Before every measurement the second engine forgets the fleet (its images
# and its build cache; base images stay). The seed (first engine, not timed)
# is `slipway build --no-cache --push --registry R`, so the pushed images
# carry inline cache and are tagged inputs-HEX and buildcache.
# Methods rotate between rounds. Each line of results.tsv: method, round,
# wall seconds, statuses, 1-minute load average before and after.
#
# BENCH_REGISTRY_FLEET=waiting measures bench/run.sh's waiting fleet instead
# (BENCH_WAIT_SERVICES services of one `RUN sleep BENCH_WAIT_SLEEP` plus 16
# MiB of sha256sum, generated under $BENCH_OUT/gen): its builds wait rather
# than compile, so its ratios hold on a machine other work keeps busy.
#
# BENCH_BASE_FROM=registry gives the second engine its base images as a real
# machine gets them, pulled from the registry (default: load, a `docker save |
# docker load` copy, whose layers the engine cannot match to registry blobs,
# so each reuse pull fetches the base layers again).
#
# Knobs: BENCH_REPEAT=2, BENCH_REGISTRY_PORT=5061, BENCH_REGISTRY_FLEET=fleet,
# SLIPWAY (binary; default: built from this tree),
# BENCH_WAIT_SERVICES=6, BENCH_WAIT_SLEEP=8,
# BENCH_OUT=bench/out/registry-<UTC timestamp>.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
REPEAT=${BENCH_REPEAT:-2}
PORT=${BENCH_REGISTRY_PORT:-5061}
REG=localhost:$PORT
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${BENCH_OUT:-bench/out/registry-$STAMP}
mkdir -p "$OUT/bin" "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.tsv
KIND=${BENCH_REGISTRY_FLEET:-fleet}
BASE_FROM=${BENCH_BASE_FROM:-load}
case $KIND in
  fleet)
    FLEET=$ROOT/examples/fleet/slipway.yaml
    PROJECT=fleet
    BASES=(slipway.local/base/golang:1.26-bookworm slipway.local/base/debian:bookworm slipway.local/base/python:3-bookworm)
    ;;
  waiting)
    PROJECT=benchregwait
    BASES=(slipway.local/base/debian:bookworm)
    gen=$OUT/gen
    mkdir -p "$gen/docker"
    printf 'project: %s\nservices:\n' "$PROJECT" >"$gen/slipway.yaml"
    nonce=$(date +%s%N)
    for i in $(seq 1 "${BENCH_WAIT_SERVICES:-6}"); do
      cat >"$gen/docker/w$i.Dockerfile" <<EOF
FROM slipway.local/base/debian:bookworm AS runtime
RUN echo "w$i-$nonce: waiting like a slow download" && sleep ${BENCH_WAIT_SLEEP:-8} \\
 && head -c 16777216 /dev/urandom | sha256sum >/w$i.sum && echo "w$i" >/w$i.txt
EOF
      printf '  w%s:\n    dockerfile: docker/w%s.Dockerfile\n    target: runtime\n' "$i" "$i" >>"$gen/slipway.yaml"
    done
    FLEET=$gen/slipway.yaml
    ;;
  *) echo "bench: BENCH_REGISTRY_FLEET is fleet or waiting" >&2; exit 2 ;;
esac
# Next to the config: contexts are relative to its folder (a root-level
# file no fleet Dockerfile COPYs).
CACHE_CFG=$(dirname "$FLEET")/.bench-registry-cache.yaml
D2=/tmp/swb2-$$
export SLIPWAY_DOCKERD2_BRIDGE=slipwayb4 SLIPWAY_DOCKERD2_CIDR=10.97.0.1/24

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
for tool in docker jq go; do command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }; done

finish() {
  rm -f "$CACHE_CFG"
  scripts/lib/dockerd2.sh stop "$D2" >/dev/null 2>&1 || true
  scripts/registry.sh stop "$PORT" >/dev/null 2>&1 || true
  # The seed's images in the first engine: exactly the refs it reported.
  if [[ -s $OUT/seed.json ]]; then
    jq -r '.services[].image' "$OUT/seed.json" | xargs -r docker image rm >/dev/null 2>&1 || true
  fi
}
trap finish EXIT
trap 'exit 143' TERM INT

SLIPWAY=${SLIPWAY:-}
if [[ -z $SLIPWAY ]]; then
  log "building slipway"
  go build -o "$OUT/bin/slipway" ./cmd/slipway
  SLIPWAY=$OUT/bin/slipway
fi
STATE1=$OUT/state1
STATE2=$OUT/state2

scripts/registry.sh start "$PORT" >/dev/null
log "starting the second dockerd in $D2"
HOST2=$(scripts/lib/dockerd2.sh start "$D2" | tail -n 1)
for img in "${BASES[@]}"; do
  if [[ $BASE_FROM == registry ]]; then
    # As a real machine gets it: pulled from a registry, so the engine knows
    # its layers' registry digests and a later pull of an image built on
    # it fetches only the new layers.
    log "pulling $img into the second dockerd through $REG"
    docker tag "$img" "$REG/${img#slipway.local/}"
    docker push -q "$REG/${img#slipway.local/}" >/dev/null
    docker image rm "$REG/${img#slipway.local/}" >/dev/null
    DOCKER_HOST=$HOST2 docker pull -q "$REG/${img#slipway.local/}" >/dev/null
    DOCKER_HOST=$HOST2 docker tag "$REG/${img#slipway.local/}" "$img"
  else
    log "copying $img into the second dockerd (docker save | docker load)"
    docker save "$img" | DOCKER_HOST=$HOST2 docker load -q >/dev/null
  fi
done

log "seed: the first engine builds the fleet (--no-cache) and pushes it to $REG"
SLIPWAY_STATE_DIR=$STATE1 "$SLIPWAY" build -f "$FLEET" --no-cache --push --registry "$REG" --progress plain \
  --metadata-file "$OUT/seed.json" >"$OUT/logs/seed.log" 2>&1

# The fleet's config with the registry cache as its cache_from.
{
  cat "$FLEET"
  printf 'cache_from: ["type=registry,ref=%s/{{.Project}}-{{.Service}}:buildcache,registry.insecure=true"]\n' "$REG"
} >"$CACHE_CFG"

forget() { # the second engine drops the fleet's images and its build cache
  local ids
  ids=$(DOCKER_HOST=$HOST2 docker image ls -q --filter "label=dev.slipway.project=$PROJECT" | sort -u)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    DOCKER_HOST=$HOST2 docker image rm -f $ids >/dev/null
  fi
  DOCKER_HOST=$HOST2 docker builder prune -af >/dev/null
  rm -rf "$STATE2"
}

measure() { # METHOD ROUND slipway-args...
  local meth=$1 rep=$2; shift 2
  forget
  local meta=$OUT/logs/$meth-$rep.json l0 l1 t0 t1 rc=0
  l0=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  DOCKER_HOST=$HOST2 SLIPWAY_STATE_DIR=$STATE2 "$SLIPWAY" build --progress plain --metadata-file "$meta" "$@" \
    >"$OUT/logs/$meth-$rep.log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  l1=$(cut -d' ' -f1 /proc/loadavg)
  local wall statuses
  wall=$(echo "$t1 - $t0" | bc)
  statuses=$(jq -r '[.services[].status] | group_by(.) | map("\(length) \(.[0])") | join(", ")' "$meta" 2>/dev/null || echo "exit $rc")
  printf '%s\t%s\t%.1f\t%s\t%s\t%s\n' "$meth" "$rep" "$wall" "$statuses" "$l0" "$l1" >>"$RESULTS"
  log "$meth round $rep: ${wall}s ($statuses; load $l0 -> $l1)"
}

printf 'method\tround\twall_s\tstatuses\tload_before\tload_after\n' >"$RESULTS"
methods=(cold reuse cache-only)
for rep in $(seq 1 "$REPEAT"); do
  for i in 0 1 2; do
    meth=${methods[$(((i + rep - 1) % 3))]}
    case $meth in
      cold) measure cold "$rep" -f "$FLEET" --no-cache ;;
      reuse) measure reuse "$rep" -f "$FLEET" --registry "$REG" ;;
      cache-only) measure cache-only "$rep" -f "$CACHE_CFG" ;;
    esac
  done
done

{
  echo "# bench/registry.sh $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD)"
  echo
  echo "| method | rounds (s) | median (s) | vs cold |"
  echo "|---|---|---|---|"
  cold=$(awk -F'\t' '$1=="cold"{print $3}' "$RESULTS" | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
  for m in cold reuse cache-only; do
    rounds=$(awk -F'\t' -v m="$m" '$1==m{printf "%s%s", sep, $3; sep=" / "}' "$RESULTS")
    med=$(awk -F'\t' -v m="$m" '$1==m{print $3}' "$RESULTS" | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}')
    printf '| %s | %s | %s | %.2fx |\n' "$m" "$rounds" "$med" "$(echo "$med / $cold" | bc -l)"
  done
} >"$OUT/summary.md"
cat "$OUT/summary.md"
log "results in $OUT"
