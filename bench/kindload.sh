#!/usr/bin/env bash
# bench/kindload.sh: loading images into Kind clusters, slipway against
# `kind load docker-image`, in one run (issue 3).
#
# Every round creates two fresh Kind-shaped 2-node clusters
# (scripts/kind-nodes.sh: control-plane + worker), one per tool, and measures
#   cold     all 8 images of examples/fleet into the empty cluster:
#            `kind load docker-image --name K REF...` (one call) against
#            `slipway load --cluster S REF...` (one call)
#   present  the same call again (everything already on the nodes)
#   changed  a one-line change to one Go service (cmd/notification), a slipway
#            rebuild (only that service is built, the others are reused under
#            new tags), then all 8 refs of that build into each cluster
#   coldstart  into fresh clusters, a cold load of all 8 images plus a first
#            container start from every image on every node
#            (bench/load-start.sh, bench/first-start.sh), by
#            floor           one `docker save` piped straight into an
#                            unpacking `ctr images import` on both nodes at
#                            once (bench/node-import.sh): the least work
#            kind            `kind load docker-image`
#            slipway         `slipway load` (its default unpack mode)
#            slipway-unpack  `slipway load`, SLIPWAY_KIND_UNPACK=at-import
#            slipway-defer   `slipway load`, SLIPWAY_KIND_UNPACK=on-first-use
#                            (--no-unpack: the CRI unpacks on first start)
#            goal: slipway ≤ 1.02x floor
# The tools alternate (kind first in odd rounds, slipway first in even ones;
# the coldstart methods rotate).
# Each run gets TMPDIR = an empty directory whose size is sampled every
# 100 ms (peak temp bytes); bench/cmd/measure records wall time, machine
# memory, the tool's own max RSS and the load average.
#
# Knobs: BENCH_REPEAT=2, BENCH_QUIET=0.3 (cores), BENCH_QUIET_TIMEOUT=60s,
# BENCH_OUT=bench/out/kind-<UTC timestamp>, SLIPWAY (binary; default: built
# from this tree), BENCH_KEEP_CLUSTERS=1 (don't delete the clusters),
# BENCH_COLDSTART_ONLY=1 (only the coldstart scenario), BENCH_COLDSTART_METHODS
# (default "floor kind slipway slipway-unpack slipway-defer").
# Output: $BENCH_OUT/results.jsonl, summary.md, logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source "$ROOT/bench/lib.sh"
need docker jq kind go git
bench_init kind

CLUSTERS=()
finish() {
  restore_service || true
  if [[ ${BENCH_KEEP_CLUSTERS:-0} != 1 ]]; then
    for c in "${CLUSTERS[@]}"; do scripts/kind-nodes.sh delete "$c" >/dev/null 2>&1 || true; done
  fi
  cleanup_refs
}
trap finish EXIT

# The images: one slipway build of the fleet (reused if it exists already).
"$SLIPWAY" build -f "$FLEET" --progress plain --metadata-file "$OUT/gen/base.meta.json" >"$OUT/logs/base-build.log" 2>&1
mapfile -t BASE < <(meta_refs "$OUT/gen/base.meta.json")
record_refs "${BASE[@]}"
log "images: ${BASE[*]}"

load_cmd() { # TOOL CLUSTER REF...
  local tool=$1 c=$2; shift 2
  case $tool in
    kind) echo kind load docker-image --name "$c" "$@" ;;
    slipway) echo "$SLIPWAY" load -f "$FLEET" --cluster "$c" "$@" ;;
  esac
}

for rep in $(seq 1 "$REPEAT"); do
  ck=$ID-kind-$rep cs=$ID-slip-$rep
  if [[ ${BENCH_COLDSTART_ONLY:-0} != 1 ]]; then
  CLUSTERS+=("$ck" "$cs")
  log "round $rep: creating clusters $ck and $cs"
  scripts/kind-nodes.sh create "$ck" 1 >/dev/null
  scripts/kind-nodes.sh create "$cs" 1 >/dev/null
  declare -A cluster=([kind]=$ck [slipway]=$cs)
  read -r -a order <<<"$(order_for "$rep" kind slipway)"

  for scen in cold present; do
    for tool in "${order[@]}"; do
      # shellcheck disable=SC2046
      mrun "$scen" "$tool" "$rep" "images=${#BASE[@]}" "cluster=${cluster[$tool]}" -- $(load_cmd "$tool" "${cluster[$tool]}" "${BASE[@]}")
    done
  done

  # changed: one Go service edited, rebuilt by slipway, all 8 refs loaded.
  change_service "$ID-$rep"
  mrun changed rebuild "$rep" "metadata=$OUT/gen/changed-$rep.meta.json" -- \
    "$SLIPWAY" build -f "$FLEET" --progress plain --metadata-file "$OUT/gen/changed-$rep.meta.json"
  restore_service
  mapfile -t CH < <(meta_refs "$OUT/gen/changed-$rep.meta.json")
  record_refs "${CH[@]}"
  annotate changed rebuild "$rep" statuses "$(jq -r '[.services[] | .status] | group_by(.) | map("\(.[0])=\(length)") | join(",")' "$OUT/gen/changed-$rep.meta.json")"
  for tool in "${order[@]}"; do
    # shellcheck disable=SC2046
    mrun changed "$tool" "$rep" "images=${#CH[@]}" "cluster=${cluster[$tool]}" -- $(load_cmd "$tool" "${cluster[$tool]}" "${CH[@]}")
  done

  # What is on the nodes afterwards (sanity: both clusters hold the same refs).
  for tool in kind slipway; do
    for node in $(docker ps --filter "label=io.x-k8s.kind.cluster=${cluster[$tool]}" --format '{{.Names}}'); do
      n=$(docker exec "$node" crictl images -o json | jq --argjson want "$(printf '%s\n' "${BASE[@]}" "${CH[@]}" | jq -R . | jq -s .)" \
        '[.images[].repoTags[]] as $have | $want | map(select(. as $w | ($have | index($w) != null) or ($have | index("docker.io/" + $w) != null))) | length')
      echo "$tool $node: $n of $(( ${#BASE[@]} + ${#CH[@]} )) refs present" >>"$OUT/node-check.txt"
    done
  done
  if [[ ${BENCH_KEEP_CLUSTERS:-0} != 1 ]]; then
    scripts/kind-nodes.sh delete "$ck" >/dev/null
    scripts/kind-nodes.sh delete "$cs" >/dev/null
  fi
  fi # BENCH_COLDSTART_ONLY

  # coldstart: load plus a first start from every image on every node,
  # each method into a fresh cluster, against the floor.
  read -r -a methods <<<"${BENCH_COLDSTART_METHODS:-floor kind slipway slipway-unpack slipway-defer}"
  for i in "${!methods[@]}"; do
    meth=${methods[$(((i + rep - 1) % ${#methods[@]}))]}
    c=$ID-$rep-${meth//slipway/s}
    CLUSTERS+=("$c")
    scripts/kind-nodes.sh create "$c" 1 >/dev/null
    SLIPWAY=$SLIPWAY FLEET=$FLEET mrun coldstart "$meth" "$rep" "images=${#BASE[@]}" "cluster=$c" -- \
      bench/load-start.sh "$meth" "$c" "${BASE[@]}"
    split=$(grep -o 'load_s=[0-9.]* start_s=[0-9.]*' "$OUT/logs/coldstart-$meth-$rep.log" | tail -1 || true)
    annotate coldstart "$meth" "$rep" load_s "$(sed -n 's/load_s=\([0-9.]*\).*/\1/p' <<<"$split")"
    annotate coldstart "$meth" "$rep" start_s "$(sed -n 's/.*start_s=\([0-9.]*\)/\1/p' <<<"$split")"
    if [[ ${BENCH_KEEP_CLUSTERS:-0} != 1 ]]; then scripts/kind-nodes.sh delete "$c" >/dev/null; fi
  done
done

bash "$ROOT/bench/summarize-kind.sh" "$RESULTS" | tee "$OUT/summary.md"
log "results: $RESULTS"
