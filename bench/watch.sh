#!/usr/bin/env bash
# bench/watch.sh: edit-to-image-on-node time of `slipway watch` against the
# same loop done by hand, in one run (issue 14).
#
# Copies of examples/fleet go to $OUT/fleet (watched) and $OUT/fleet-hand
# (the shared tree is never edited). Two Kind-shaped 2-node clusters (scripts/kind-nodes.sh: control
# plane + worker) are made, one per method. Each round makes a one-line
# change to one Go service (cmd/notification/main.go, a new string each
# time so that every measurement compiles again) and times, from just
# before the edit until the new image is in both nodes:
#   hand     docker buildx build --load of that service (its Dockerfile and
#            target, as slipway.yaml says), then
#            kind load docker-image --name CLUSTER REF
#   watch    `slipway watch --kind=CLUSTER` of the whole fleet, running all
#            along: the time until its cycle line appears (each cycle is one
#            run: notification rebuilt and loaded, the 7 others carried over)
# The methods alternate (hand first in odd rounds, watch first in even ones).
# Before round 1, hand builds and loads once (untimed), and the watch's first
# cycle builds and loads everything, so both start with warm caches.
# Each timed command runs under bench/cmd/measure (wall time, machine memory,
# load average). Goal: watch ≤ 0.5x hand.
#
# Knobs: BENCH_REPEAT=3, BENCH_QUIET=0.3 (cores), BENCH_QUIET_TIMEOUT=10s,
# BENCH_OUT=bench/out/watch-<UTC timestamp>, SLIPWAY (binary; default: built
# from this tree), BENCH_KEEP_CLUSTERS=1 (don't delete the clusters).
# Output: $BENCH_OUT/results.jsonl, summary.md (bench/summarize-watch.sh), logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source "$ROOT/bench/lib.sh"
need docker jq kind go git
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_QUIET_TIMEOUT=${BENCH_QUIET_TIMEOUT:-10s}
bench_init watch

# A private copy of the fleet and a private state folder: the edits, the
# watch's runs and its clean touch nothing of anybody else's.
# Each method gets its own copy, or the hand method's edits would start
# watch cycles too.
rm -rf "$OUT/fleet" "$OUT/fleet-hand"
cp -r "$ROOT/examples/fleet" "$OUT/fleet"
cp -r "$ROOT/examples/fleet" "$OUT/fleet-hand"
FLEETDIR=$OUT/fleet HANDDIR=$OUT/fleet-hand
export SLIPWAY_STATE_DIR=$OUT/state
# notification's build, as slipway.yaml gives it.
DF=docker/notification.Dockerfile TARGET=runtime
grep -A2 '^  notification:' "$FLEETDIR/slipway.yaml" | grep -q "dockerfile: $DF" || { echo "bench: slipway.yaml no longer builds notification from $DF" >&2; exit 1; }

# The word carries the run's ID: a word an earlier run used would give a
# source BuildKit has cached, and that round would compile nothing.
edit() { # DIR WORD: a new string in DIR's notification main.go
  local f=$1/cmd/notification/main.go
  sed -i "s/channels := \[\]string{\"email\", \"slack\"[^}]*}/channels := []string{\"email\", \"slack\", \"bench-$2\"}/" "$f"
  grep -q "bench-$2" "$f" || { echo "bench: could not edit $f" >&2; exit 1; }
}
export -f edit

CK=$ID-hand CW=$ID-watch
WATCH_PID=
finish() {
  if [[ -n $WATCH_PID ]] && kill -0 "$WATCH_PID" 2>/dev/null; then
    kill -INT "$WATCH_PID" || true
    wait "$WATCH_PID" || true
  fi
  "$SLIPWAY" clean -f "$FLEETDIR/slipway.yaml" >"$OUT/logs/clean.log" 2>&1 || true
  if [[ ${BENCH_KEEP_CLUSTERS:-0} != 1 ]]; then
    scripts/kind-nodes.sh delete "$CK" >/dev/null 2>&1 || true
    scripts/kind-nodes.sh delete "$CW" >/dev/null 2>&1 || true
  fi
  cleanup_refs
}
trap finish EXIT

log "creating clusters $CK and $CW"
scripts/kind-nodes.sh create "$CK" 1 >/dev/null
scripts/kind-nodes.sh create "$CW" 1 >/dev/null

HANDREF=localhost/benchwatch-notification
hand_loop() { # TAG: build the one service and load it, as a user would by hand
  # (the split-time echoes are for the breakdown; they cost a date call)
  echo "t0=\$(date +%s.%N); docker buildx build --progress=plain --load -f $HANDDIR/$DF --target $TARGET -t $HANDREF:$1 $HANDDIR && t1=\$(date +%s.%N) && kind load docker-image --name $CK $HANDREF:$1 && echo \"bench-split build=\$t0,\$t1 load=\$t1,\$(date +%s.%N)\""
}
# go_step LOG: the seconds of the `go build` RUN step in a plain BuildKit log.
go_step() {
  local n
  n=$(grep -m1 -oE '^#[0-9]* \[builder [0-9]*/[0-9]*\] RUN (--mount=[^ ]* +)*CGO_ENABLED' "$1" | cut -d' ' -f1) || true
  [[ -n $n ]] && grep -o "^$n DONE [0-9.]*s" "$1" | tail -n1 | sed 's/.* \([0-9.]*\)s/\1/'
}
# watch_split RUNID TOOK: where the cycle's time went, from its run record
# (first file event = the run's end minus the cycle's own figure) — as
# KEY=SECONDS pairs: pre (debounce, digests, plan), setup (run start to
# the build: refs, record, inputs), build (of which go: the go build step),
# load (image ready to on both nodes), tail (record, run end).
watch_split() {
  local rec=$SLIPWAY_STATE_DIR/runs/$1/run.json took=$2 secs
  case $took in
    *ms) secs=$(awk -v t="${took%ms}" 'BEGIN{print t/1000}') ;;
    *m*) secs=$(awk -v t="$took" 'BEGIN{split(t,a,"m"); sub("s","",a[2]); print a[1]*60+a[2]}') ;;
    *) secs=${took%s} ;;
  esac
  jq -r --argjson took "$secs" '
    def t: sub("\\.[0-9]+Z$"; "Z") as $z | (capture("\\.(?<f>[0-9]+)Z$").f // "0") as $f | ($z | fromdateiso8601) + ("0." + $f | tonumber);
    (.ended | t) as $fin | ($fin - $took) as $first | (.started | t) as $start
    | .services.notification as $n
    | ($n.timing.build.start | t) as $bs | ($n.timing.build.end | t) as $be
    | ([$n.timing.steps[]? | select(.name | test("RUN (--mount=[^ ]* +)*CGO_ENABLED")) | ((.span.end | t) - (.span.start | t))] | first // 0) as $go
    | ([$n.kind.loads[]?.span.end | t] | max // $be) as $le
    | def r: . * 100 | round / 100;
    "pre=\($start - $first | r) setup=\($bs - $start | r) build=\($be - $bs | r) go=\($go | r) load=\($le - $be | r) tail=\($fin - $le | r)"' "$rec"
}
log "watch: starting on $CW"
WOUT=$OUT/logs/watch.out
"$SLIPWAY" watch -f "$FLEETDIR/slipway.yaml" --kind="$CW" >"$WOUT" 2>"$OUT/logs/watch.err" &
WATCH_PID=$!
wait_cycle() { # N: until the watch prints cycle N's line (or 15 min)
  local i
  for ((i = 0; i < 18000; i++)); do
    grep -q "^#$1 " "$WOUT" && return 0
    kill -0 "$WATCH_PID" 2>/dev/null || { echo "bench: watch ended" >&2; return 1; }
    sleep 0.05
  done
  return 1
}
# The hand warm-up runs while the watch's first cycle builds and loads.
log "hand: warm-up build and load"
record_refs "$HANDREF:warm"
bash -c "$(hand_loop warm)" >"$OUT/logs/hand-warm.log" 2>&1

wait_cycle 1
log "watch: $(grep '^#1 ' "$WOUT")"
grep -q '^#1 .*rebuilt\|^#1 .*reused' "$WOUT" || { echo "bench: watch's first cycle failed" >&2; cat "$OUT/logs/watch.err" >&2; exit 1; }
export WOUT WATCH_PID
export -f wait_cycle

cycle=1
for rep in $(seq 1 "$REPEAT"); do
  read -r -a order <<<"$(order_for "$rep" hand watch)"
  for meth in "${order[@]}"; do
    case $meth in
      hand)
        record_refs "$HANDREF:r$rep"
        mrun change "$meth" "$rep" -- bash -c "edit $HANDDIR $ID-hand-$rep && $(hand_loop "r$rep")"
        hlog=$OUT/logs/change-hand-$rep.log
        annotate change hand "$rep" split "$(sed -n 's/^bench-split build=\([0-9.]*\),\([0-9.]*\) load=\([0-9.]*\),\([0-9.]*\)$/build=\1 \2 load=\3 \4/p' "$hlog" | awk '{split($1,a,"="); split($3,b,"="); printf "build=%.2f load=%.2f", $2-a[2], $4-b[2]}') go=$(go_step "$hlog")"
        ;;
      watch)
        cycle=$((cycle + 1))
        mrun change "$meth" "$rep" -- bash -c "edit $FLEETDIR $ID-watch-$rep && wait_cycle $cycle"
        line=$(grep "^#$cycle " "$WOUT")
        log "watch: $line"
        annotate change watch "$rep" line "$line"
        # The watch's own figure: from the first file event to image on nodes.
        took=$(sed -n 's/.*; \([0-9a-z.]*\) to image on nodes.*/\1/p' <<<"$line")
        annotate change watch "$rep" took "$took"
        annotate change watch "$rep" split "$(watch_split "$(sed -n 's/.*(run \(.*\))$/\1/p' <<<"$line")" "$took" || true)"
        ;;
    esac
  done
done

bench/summarize-watch.sh "$RESULTS" | tee "$OUT/summary.md"
log "results in $OUT"
