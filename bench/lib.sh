# shellcheck shell=bash
# bench/lib.sh: helpers shared by bench/kindload.sh and bench/speed.sh
# (sourced, not run). Expects ROOT, OUT, RESULTS, MEASURE, QUIET and
# QUIET_TIMEOUT to be set.

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
  done
}

# machine_info FILE: what the numbers were taken on.
machine_info() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cores: $(nproc)"
    echo "mem_total: $(awk '/MemTotal/ {print $2" kB"}' /proc/meminfo)"
    echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "kernel: $(uname -r)"
    echo "docker: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}')"
    echo "buildx: $(docker buildx version)"
    command -v kind >/dev/null && echo "kind: $(kind version)"
    echo "go: $(go version)"
    echo "slipway_commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo -dirty)"
  } >"$1"
}

# mrun SCENARIO METHOD REPEAT [KEY=VALUE...] -- COMMAND...
# One measured run: wait for a quiet machine, then run COMMAND under
# bench/cmd/measure with TMPDIR pointed at a fresh empty directory whose size
# is sampled every 100 ms (peak temp bytes). Appends one line to $RESULTS.
mrun() {
  local scen=$1 meth=$2 rep=$3; shift 3
  local extras=()
  while [[ $1 != -- ]]; do extras+=(-extra "$1"); shift; done
  shift
  local tmp=$OUT/tmp/$scen-$meth-$rep
  rm -rf "$tmp"
  mkdir -p "$tmp"
  local logf=$OUT/logs/$scen-$meth-$rep.log
  log "$scen/$meth (round $rep): waiting for a quiet machine"
  local rc=0
  TMPDIR=$tmp "$MEASURE" -label "$scen/$meth" -out "$RESULTS" -wait-quiet "$QUIET" -wait-timeout "$QUIET_TIMEOUT" \
    -watch-dir "$tmp" -extra "scenario=$scen" -extra "method=$meth" -extra "repeat=$rep" "${extras[@]}" \
    -- "$@" >"$logf" 2>&1 || rc=$?
  tail -n 1 "$logf" >&2 || true
  if [[ $rc != 0 ]]; then
    log "$scen/$meth (round $rep) FAILED (exit $rc); see $logf"
  fi
  rm -rf "$tmp"
  return 0
}

# annotate SCENARIO METHOD REPEAT KEY VALUE: add extra.KEY to that run's line.
annotate() {
  local tmp=$RESULTS.tmp
  jq -c --arg s "$1" --arg m "$2" --arg r "$3" --arg k "$4" --arg v "$5" \
    'if .extra.scenario == $s and .extra.method == $m and .extra.repeat == $r then .extra[$k] = $v else . end' \
    "$RESULTS" >"$tmp"
  mv "$tmp" "$RESULTS"
}

# Every image reference a run created (or re-tagged) goes to $OUT/created-refs
# so that cleanup removes exactly those and nothing else.
record_refs() { printf '%s\n' "$@" >>"$OUT/created-refs"; }
meta_refs() { jq -r '.services[].image' "$1"; }

cleanup_refs() {
  [[ -s $OUT/created-refs ]] || return 0
  local r
  sort -u "$OUT/created-refs" | while read -r r; do
    if [[ -n $r ]]; then docker image rm "$r" >/dev/null 2>&1 || true; fi
  done
}

# The one-line change to one Go service: a new string in notification's
# main.go (unique per call so each measurement compiles again), restored with
# git checkout.
CHANGE_FILE=examples/fleet/cmd/notification/main.go
change_service() {
  sed -i "s/channels := \[\]string{\"email\", \"slack\"[^}]*}/channels := []string{\"email\", \"slack\", \"bench-$1\"}/" "$ROOT/$CHANGE_FILE"
  grep -q "bench-$1" "$ROOT/$CHANGE_FILE" || { echo "bench: could not edit $CHANGE_FILE" >&2; exit 1; }
}
restore_service() { git -C "$ROOT" checkout -- "$CHANGE_FILE"; }

order_for() { # REPEAT A B: "A B" in odd rounds, "B A" in even ones
  if (($1 % 2 == 1)); then echo "$2 $3"; else echo "$3 $2"; fi
}

# bench_init NAME: the common start of a bench script — settings from the
# environment, the output folder bench/out/NAME-<UTC stamp>, the results
# file, and slipway and measure built fresh into $OUT/bin.
# shellcheck disable=SC2034 # the settings are for the calling script
bench_init() {
  REPEAT=${BENCH_REPEAT:-2}
  QUIET=${BENCH_QUIET:-0.3}
  QUIET_TIMEOUT=${BENCH_QUIET_TIMEOUT:-60s}
  FLEET=examples/fleet/slipway.yaml
  STAMP=$(date -u +%Y%m%dT%H%M%SZ)
  OUT=${BENCH_OUT:-bench/out/$1-$STAMP}
  ID=${1:0:1}$(date -u +%s | tail -c 7)
  mkdir -p "$OUT/bin" "$OUT/logs" "$OUT/gen" "$OUT/tmp"
  OUT=$(cd "$OUT" && pwd)
  RESULTS=$OUT/results.jsonl
  : >"$RESULTS"
  log "building slipway and measure into $OUT/bin"
  go build -o "$OUT/bin/slipway" ./cmd/slipway
  go build -o "$OUT/bin/measure" ./bench/cmd/measure
  SLIPWAY=${SLIPWAY:-$OUT/bin/slipway}
  MEASURE=$OUT/bin/measure
  machine_info "$OUT/machine.txt"
}
