#!/usr/bin/env bash
# bench/speed.sh: slipway's speed in everyday situations (issue 5), on
# examples/fleet, in one run.
#
#   warm     nothing changed, new unique tags: `slipway build` (every service
#            reused) against `docker buildx bake --load` of a generated bake
#            file (bench/cmd/bakegen, same Dockerfiles) with a warm cache
#   changed  a one-line change to one Go service (cmd/notification, a new
#            string each measurement, so each one compiles again):
#            `slipway build` of every service against one
#            `docker buildx build --load` of that service's Dockerfile alone
#            (warm cache)
#   e2e      cold build cache (`docker builder prune -af`) and a fresh
#            Kind-shaped 2-node cluster: `slipway build --no-cache --kind --cluster C`
#            against the two phases measured separately (`slipway build
#            --no-cache`, then `slipway load --cluster C` of its refs into
#            another fresh cluster)
#   waiting  bench/run.sh's waiting fleet (6 services mostly `RUN sleep 8`):
#            serial loop (gives the longest single build), bake, slipway with
#            its default jobs (BENCH_WAITING=0 skips it)
# The methods alternate between rounds. bench/cmd/measure waits for a quiet
# machine and records wall time, machine memory, the tool's max RSS, temp
# bytes in its TMPDIR and the load average.
#
# Knobs: BENCH_REPEAT=2, BENCH_QUIET=0.3 (cores), BENCH_QUIET_TIMEOUT=60s,
# BENCH_SCENARIOS="warm changed e2e waiting",
# BENCH_OUT=bench/out/speed-<UTC timestamp>, SLIPWAY (binary; default: built
# from this tree).
# Output: $BENCH_OUT/results.jsonl, summary.md, logs/, waiting/ (run.sh's).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SCENARIOS=${BENCH_SCENARIOS:-warm changed e2e waiting}
source "$ROOT/bench/lib.sh"
need docker jq go git bc
bench_init speed
go build -o "$OUT/bin/bakegen" ./bench/cmd/bakegen
BAKEGEN=$OUT/bin/bakegen
FLEET_DIR=$ROOT/examples/fleet

CLUSTERS=()
finish() {
  restore_service || true
  for c in "${CLUSTERS[@]}"; do scripts/kind-nodes.sh delete "$c" >/dev/null 2>&1 || true; done
  cleanup_refs
}
trap finish EXIT

new_cluster() { # NAME
  CLUSTERS+=("$1")
  scripts/kind-nodes.sh create "$1" 1 >/dev/null
}
drop_cluster() { scripts/kind-nodes.sh delete "$1" >/dev/null 2>&1 || true; }

# slipway_run SCEN METHOD REP META [slipway build flags...]
slipway_run() {
  local scen=$1 meth=$2 rep=$3 meta=$4; shift 4
  mrun "$scen" "$meth" "$rep" "metadata=$meta" -- \
    "$SLIPWAY" build -f "$FLEET" --progress plain --metadata-file "$meta" "$@"
  if [[ -s $meta ]]; then
    mapfile -t refs < <(meta_refs "$meta")
    record_refs "${refs[@]}"
    annotate "$scen" "$meth" "$rep" statuses "$(jq -r '[.services[] | .status] | group_by(.) | map("\(.[0])=\(length)") | join(",")' "$meta")"
    annotate "$scen" "$meth" "$rep" max_service_s "$(jq '[.services[].duration_ms] | max / 1000' "$meta")"
  fi
}

# ---- warm: nothing changed ------------------------------------------------
warm() {
  log "warm: priming (one slipway build and one warm bake, not measured)"
  "$SLIPWAY" build -f "$FLEET" --progress plain --metadata-file "$OUT/gen/prime.meta.json" >"$OUT/logs/prime-slipway.log" 2>&1
  mapfile -t refs < <(meta_refs "$OUT/gen/prime.meta.json")
  record_refs "${refs[@]}"
  "$BAKEGEN" -file "$FLEET" -tag "$ID-prime" -label "dev.slipway.bench=$ID" -no-cache=false -bake "$OUT/gen/prime.bake.json" -list >"$OUT/gen/prime.refs"
  mapfile -t refs <"$OUT/gen/prime.refs"
  record_refs "${refs[@]}"
  docker buildx bake --allow "fs.read=$FLEET_DIR" -f "$OUT/gen/prime.bake.json" --load --progress plain >"$OUT/logs/prime-bake.log" 2>&1
  local rep meth
  for rep in $(seq 1 "$REPEAT"); do
    for meth in $(order_for "$rep" slipway bake); do
      case $meth in
        slipway) slipway_run warm slipway "$rep" "$OUT/gen/warm-$rep.meta.json" ;;
        bake)
          "$BAKEGEN" -file "$FLEET" -tag "$ID-warm-$rep" -label "dev.slipway.bench=$ID" -no-cache=false \
            -bake "$OUT/gen/warm-$rep.bake.json" -list >"$OUT/gen/warm-$rep.refs"
          mapfile -t refs <"$OUT/gen/warm-$rep.refs"
          record_refs "${refs[@]}"
          mrun warm bake "$rep" -- docker buildx bake --allow "fs.read=$FLEET_DIR" -f "$OUT/gen/warm-$rep.bake.json" --load --progress plain
          ;;
      esac
      sleep 1 # slipway's default tag has a one-second clock
    done
  done
}

# ---- changed: one Go service edited ---------------------------------------
changed() {
  local rep meth
  for rep in $(seq 1 "$REPEAT"); do
    for meth in $(order_for "$rep" slipway single); do
      change_service "$ID-$rep-$meth"
      case $meth in
        slipway) slipway_run changed slipway "$rep" "$OUT/gen/changed-$rep.meta.json" ;;
        single)
          "$BAKEGEN" -file "$FLEET" -only notification -tag "$ID-changed-$rep" -label "dev.slipway.bench=$ID" -no-cache=false \
            -loop "$OUT/gen/changed-$rep.loop.sh" -list >"$OUT/gen/changed-$rep.refs"
          mapfile -t refs <"$OUT/gen/changed-$rep.refs"
          record_refs "${refs[@]}"
          mrun changed single "$rep" -- bash "$OUT/gen/changed-$rep.loop.sh"
          ;;
      esac
      # Someone else on the machine may restore the file meanwhile: a
      # measurement whose change was gone (or whose compile step was cached)
      # is marked invalid and left out of the summary.
      local ok=yes
      grep -q "bench-$ID-$rep-$meth" "$ROOT/$CHANGE_FILE" || ok=no
      if [[ $meth == single ]] && grep -A1 'RUN CGO_ENABLED' "$OUT/logs/changed-single-$rep.log" | grep -q CACHED; then ok=no; fi
      if [[ $meth == slipway ]] && ! jq -e '.services.notification.status == "built"' "$OUT/gen/changed-$rep.meta.json" >/dev/null 2>&1; then ok=no; fi
      annotate changed "$meth" "$rep" change_compiled "$ok"
      [[ $ok == yes ]] || log "changed/$meth (round $rep): the change was not compiled (file restored by someone else?); marked invalid"
      restore_service
      sleep 1
    done
  done
}

# ---- e2e: cold build + Kind load ------------------------------------------
e2e() {
  local rep meth c
  for rep in $(seq 1 "$REPEAT"); do
    for meth in $(order_for "$rep" together phases); do
      case $meth in
        together)
          c=$ID-e2e-$rep
          new_cluster "$c"
          docker builder prune -af >/dev/null
          slipway_run e2e build+kind "$rep" "$OUT/gen/e2e-$rep.meta.json" --no-cache --kind --cluster "$c"
          if [[ -s $OUT/gen/e2e-$rep.meta.json ]]; then
            annotate e2e build+kind "$rep" kind_fields "$(jq -c '[.services[] | .kind // empty] | length' "$OUT/gen/e2e-$rep.meta.json")"
          fi
          drop_cluster "$c"
          ;;
        phases)
          docker builder prune -af >/dev/null
          slipway_run e2e build "$rep" "$OUT/gen/e2e-build-$rep.meta.json" --no-cache
          c=$ID-ph-$rep
          new_cluster "$c"
          mapfile -t refs < <(meta_refs "$OUT/gen/e2e-build-$rep.meta.json")
          mrun e2e load "$rep" "images=${#refs[@]}" -- "$SLIPWAY" load -f "$FLEET" --cluster "$c" "${refs[@]}"
          drop_cluster "$c"
          ;;
      esac
      sleep 1
    done
  done
}

# ---- waiting: bench/run.sh's waiting fleet --------------------------------
waiting() {
  log "waiting: bench/run.sh (serial, bake, slipway default jobs)"
  BENCH_SCENARIOS=waiting BENCH_METHODS="serial bake slipway" BENCH_UNLIMITED=0 BENCH_REPEAT=$REPEAT \
    BENCH_QUIET=$QUIET BENCH_QUIET_TIMEOUT=$QUIET_TIMEOUT BENCH_OUT=$OUT/waiting SLIPWAY=$SLIPWAY \
    bash "$ROOT/bench/run.sh" >"$OUT/logs/waiting-run.log" 2>&1 || log "waiting: run.sh failed, see $OUT/logs/waiting-run.log"
}

for scen in $SCENARIOS; do
  case $scen in
    warm | changed | e2e | waiting) "$scen" ;;
    *) echo "bench: unknown scenario $scen" >&2; exit 2 ;;
  esac
done

bash "$ROOT/bench/summarize-speed.sh" "$RESULTS" "$OUT/waiting/results.jsonl" | tee "$OUT/summary.md"
log "results: $RESULTS"
