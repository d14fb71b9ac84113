#!/usr/bin/env bash
# bench/p8.sh: Benchmark P8, time to an E2E-ready cluster (issue 11), on a
# REAL Kind cluster (the node image of scripts/kind-node-image.sh: systemd,
# containerd 2.x, a kubelet), with examples/fleet: from nothing to a Ready
# pod of every service (a Deployment each, imagePullPolicy: Never), in one
# run on one machine. Every build is --no-cache (BuildKit runs every step;
# base images are local), and the Go build-cache mounts are emptied before
# each flow, so no flow gets a head start from an earlier one.
#
# Scenarios (BENCH_P8_SCENARIOS, default "flows warm unpack"):
#   flows   (a) old      `kind create cluster`; `docker build` of each service
#                        one after another; `kind load docker-image` of each;
#                        apply; wait until every pod is Ready
#           (b) parallel `kind create cluster`; every `docker build` at once;
#                        one `kind load docker-image` of them all; apply; wait
#           (c) slipway  `kind create cluster` in the background while
#                        `slipway build --no-cache --cluster C --kind-wait`
#                        runs: each image is loaded in-process as its build
#                        ends (once the nodes are ready) and its Deployment
#                        applied when the run says it is loaded; wait
#           Goal: (c) ≤ 1.1x the longer of its own cluster creation and its
#           own `slipway build` (both measured inside (c), overlapped).
#   warm    on (c)'s cluster, a one-line change to one Go service
#           (cmd/notification, a new string each time) until the new pod is
#           Ready: slipway (`slipway build --kind=C` of the whole fleet, the
#           other 7 reused; `kubectl set image`; rollout) against classic
#           (`docker build` of that service, `kind load docker-image`,
#           `kubectl set image`, rollout); BENCH_P8_WARM rounds each (3),
#           alternating which goes first
#   unpack  the no-unpack decision: per mode, a fresh cluster (Ready, not
#           timed), then `slipway load` of all 8 images with
#           SLIPWAY_KIND_UNPACK=on-first-use (--no-unpack) or at-import,
#           apply, wait until every pod is Ready (timed from the load's
#           start; the load and the rest reported apart)
# Flows run in order (a) (b) (c) in odd rounds, (c) (b) (a) in even ones;
# unpack modes alternate likewise. BENCH_REPEAT=1 rounds.
#
# kubectl runs inside the control-plane node (it has kubectl and an admin
# kubeconfig), as test/realkind does: the host needs no kubectl.
#
# Knobs: BENCH_REPEAT=1, BENCH_P8_SCENARIOS, BENCH_P8_WARM=3,
# BENCH_P8_FLOWS (a subset of "old parallel slipway"; default all three),
# P8_NODE_IMAGE (default: the last line of scripts/kind-node-image.sh),
# BENCH_OUT=bench/out/p8-<UTC timestamp>, SLIPWAY, BENCH_KEEP_CLUSTERS=1.
# Output: $BENCH_OUT/results.jsonl (one line per measurement), summary.md
# (bench/summarize-p8.sh), logs/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
source "$ROOT/bench/lib.sh"
need docker jq kind go git
SCENARIOS=${BENCH_P8_SCENARIOS:-flows warm unpack}
WARM=${BENCH_P8_WARM:-3}
export BENCH_REPEAT=${BENCH_REPEAT:-1}
bench_init p8
FLEET_DIR=$ROOT/examples/fleet
SERVICES=(gateway datastorage notification aianalysis workflow remediation signalprocessing api)
# The fleet's services print and exit; a pod must stay up to be Ready, so
# each container runs its service once and then sleeps (as test/realkind).
declare -A ENTRY=(
  [gateway]=/usr/local/bin/gateway [datastorage]=/usr/local/bin/datastorage
  [notification]=/usr/local/bin/notification [aianalysis]=/usr/local/bin/aianalysis
  [workflow]=/usr/local/bin/workflow [remediation]=/usr/local/bin/remediation
  [signalprocessing]=/usr/local/bin/signalprocessing [api]="python3 /app/app.py"
)

if [[ -z ${P8_NODE_IMAGE:-} ]]; then
  log "node image: scripts/kind-node-image.sh"
  P8_NODE_IMAGE=$(scripts/kind-node-image.sh 2>"$OUT/logs/node-image.log" | tail -n 1)
fi
docker image inspect "$P8_NODE_IMAGE" >/dev/null || { echo "p8: node image $P8_NODE_IMAGE not found" >&2; exit 1; }
echo "node_image: $P8_NODE_IMAGE" >>"$OUT/machine.txt"
log "node image $P8_NODE_IMAGE"
KIND_CONFIG=$ROOT/scripts/lib/kind-cluster.yaml # one control plane, one worker

CLUSTERS=()
finish() {
  restore_service || true
  if [[ ${BENCH_KEEP_CLUSTERS:-0} != 1 ]]; then
    for c in "${CLUSTERS[@]}"; do kind delete cluster --name "$c" >/dev/null 2>&1 || true; done
  fi
  cleanup_refs
}
trap finish EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
kc() { # CLUSTER kubectl-args...: kubectl in the control-plane node
  local c=$1; shift
  docker exec -i "$c-control-plane" kubectl --kubeconfig=/etc/kubernetes/admin.conf "$@"
}
create_cluster() { # NAME: kind create cluster (no --wait: pods wait for Ready nodes)
  CLUSTERS+=("$1")
  # A second try: kubeadm's fixed waits can give up on a loaded machine.
  kind create cluster --name "$1" --image "$P8_NODE_IMAGE" --config "$KIND_CONFIG" >>"$OUT/logs/cluster-$1.log" 2>&1 || {
    log "kind create cluster $1 failed, trying again"
    kind delete cluster --name "$1" >/dev/null 2>&1 || true
    kind create cluster --name "$1" --image "$P8_NODE_IMAGE" --config "$KIND_CONFIG" >>"$OUT/logs/cluster-$1.log" 2>&1
  }
}
drop_cluster() {
  if [[ ${BENCH_KEEP_CLUSTERS:-0} != 1 ]]; then kind delete cluster --name "$1" >/dev/null 2>&1 || true; fi
}
manifest() { # SERVICE REF: its Deployment
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, labels: {app: $1}}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: $2
        imagePullPolicy: Never
        command: ["/bin/sh", "-c", "${ENTRY[$1]}; exec sleep 2147483647"]
---
EOF
}
apply() { # CLUSTER SERVICE REF; the API server may still be starting: retry
  local i
  for i in $(seq 1 60); do
    if manifest "$2" "$3" | kc "$1" apply -f - >>"$OUT/logs/kubectl-$1.log" 2>&1; then return 0; fi
    sleep 1
  done
  echo "p8: could not apply $2 on $1" >&2
  return 1
}
wait_ready() { # CLUSTER SERVICE...: every Deployment rolled out, its pod Ready
  local c=$1 s; shift
  for s in "$@"; do
    kc "$c" rollout status "deployment/$s" --timeout=15m >>"$OUT/logs/kubectl-$c.log" 2>&1 || {
      kc "$c" describe pods -l "app=$s" >>"$OUT/logs/kubectl-$c.log" 2>&1 || true
      echo "p8: $s never became Ready on $c" >&2
      return 1
    }
  done
}
result() { # SCENARIO METHOD REPEAT WALL_S [KEY VALUE]...: one line of results
  local args=(--arg s "$1" --arg m "$2" --arg r "$3" --argjson w "$4") obj='{scenario: $s, method: $m, repeat: ($r | tonumber), wall_s: $w'
  shift 4
  local i=0
  while (($#)); do
    args+=(--arg "k$i" "$1" --arg "v$i" "$2")
    obj+=", (\$k$i): (\$v$i | tonumber? // \$v$i)"
    shift 2
    i=$((i + 1))
  done
  jq -nc "${args[@]}" "$obj}" >>"$RESULTS"
  log "$(tail -n 1 "$RESULTS")"
}
docker_build() { # SERVICE TAG [docker build flags]: the service's image under TAG
  local s=$1 t=$2; shift 2
  docker build "$@" -q -f "$FLEET_DIR/docker/$s.Dockerfile" --target runtime -t "$t" "$FLEET_DIR" >/dev/null
}
pref() { echo "p8.local/fleet-$1:$ID-$2"; } # SERVICE SUFFIX: a classic flow's tag

# (a) the old flow: every step after the last.
flow_old() { # REPEAT
  local rep=$1 c=$ID-a$1 t0 tc tb tl s refs=()
  t0=$(now)
  create_cluster "$c"
  tc=$(since "$t0")
  for s in "${SERVICES[@]}"; do
    docker_build "$s" "$(pref "$s" "a$rep")" --no-cache
    refs+=("$(pref "$s" "a$rep")")
  done
  record_refs "${refs[@]}"
  tb=$(since "$t0")
  for s in "${SERVICES[@]}"; do kind load docker-image --name "$c" "$(pref "$s" "a$rep")" >>"$OUT/logs/flows.log" 2>&1; done
  tl=$(since "$t0")
  for s in "${SERVICES[@]}"; do apply "$c" "$s" "$(pref "$s" "a$rep")"; done
  wait_ready "$c" "${SERVICES[@]}"
  result flows old "$rep" "$(since "$t0")" cluster_s "$tc" builds_end_s "$tb" loads_end_s "$tl"
  drop_cluster "$c"
}

# (b) the seed's parallel flow: the builds at once, then one kind load.
flow_parallel() { # REPEAT
  local rep=$1 c=$ID-b$1 t0 tc tb tl s pids=() refs=()
  t0=$(now)
  create_cluster "$c"
  tc=$(since "$t0")
  for s in "${SERVICES[@]}"; do
    docker_build "$s" "$(pref "$s" "b$rep")" --no-cache &
    pids+=($!)
    refs+=("$(pref "$s" "b$rep")")
  done
  for p in "${pids[@]}"; do wait "$p"; done
  record_refs "${refs[@]}"
  tb=$(since "$t0")
  kind load docker-image --name "$c" "${refs[@]}" >>"$OUT/logs/flows.log" 2>&1
  tl=$(since "$t0")
  for s in "${SERVICES[@]}"; do apply "$c" "$s" "$(pref "$s" "b$rep")"; done
  wait_ready "$c" "${SERVICES[@]}"
  result flows parallel "$rep" "$(since "$t0")" cluster_s "$tc" builds_end_s "$tb" loads_end_s "$tl"
  drop_cluster "$c"
}

# (c) slipway: the cluster and the builds at once. `slipway build --kind
# --kind-wait` starts building while `kind create cluster` runs; each image
# is loaded in-process as its build ends (once the cluster's nodes are
# ready) and its Deployment applied as soon as the run says it is loaded
# (the build's JSON progress).
SLIP_CLUSTER=
flow_slipway() { # REPEAT
  local rep=$1 c=$ID-c$1 t0 cpid line svc state ref tb meta=$OUT/gen/c-$1.meta.json ev=$OUT/logs/c-$1.events
  local marks=$OUT/gen/c-$1.marks
  : >"$marks"
  t0=$(now)
  (
    create_cluster "$c" && echo "cluster $(since "$t0")" >>"$marks"
  ) &
  cpid=$!
  CLUSTERS+=("$c")
  local apids=()
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$ev"
    state=$(jq -r '.state // empty' <<<"$line" 2>/dev/null || true)
    case $state in
    built | reused)
      svc=$(jq -r .service <<<"$line")
      echo "built $svc $(since "$t0")" >>"$marks"
      ;;
    loaded)
      svc=$(jq -r .service <<<"$line") ref=$(jq -r .ref <<<"$line")
      echo "loaded $svc $(since "$t0")" >>"$marks"
      (
        apply "$c" "$svc" "$ref"
        echo "applied $svc $(since "$t0")" >>"$marks"
      ) </dev/null &
      apids+=($!)
      ;;
    esac
  done < <("$SLIPWAY" build -f "$FLEET" --no-cache --cluster "$c" --kind-wait 20m --progress json \
    --metadata-file "$meta" 2>&1 >>"$OUT/logs/c-$rep-build.log")
  tb=$(awk '/^built /{if ($3 > m) m = $3} END {print m}' "$marks")
  wait "$cpid"
  local p
  for p in "${apids[@]}"; do wait "$p"; done
  mapfile -t crefs < <(meta_refs "$meta")
  record_refs "${crefs[@]}"
  ((${#crefs[@]} == ${#SERVICES[@]})) || { echo "p8: slipway built ${#crefs[@]} images" >&2; return 1; }
  wait_ready "$c" "${SERVICES[@]}"
  local total tc last_load
  total=$(since "$t0")
  tc=$(awk '/^cluster /{print $2}' "$marks")
  last_load=$(awk '/^loaded /{if ($3 > m) m = $3} END {print m}' "$marks")
  result flows slipway "$rep" "$total" cluster_s "$tc" builds_s "$tb" loads_end_s "$last_load" \
    longer_phase_s "$(awk -v a="$tc" -v b="$tb" 'BEGIN { print (a > b ? a : b) }')"
  cp "$marks" "$OUT/logs/"
  SLIP_CLUSTER=$c
}

# warm: one service changed until its new pod is Ready, on (c)'s cluster.
warm_slipway() { # CLUSTER ROUND
  local c=$1 i=$2 t0 meta=$OUT/gen/warm-s-$2.json ref
  change_service "$ID-ws$i"
  t0=$(now)
  "$SLIPWAY" build -f "$FLEET" --kind="$c" --progress plain --metadata-file "$meta" >>"$OUT/logs/warm.log" 2>&1
  ref=$(jq -r '.services.notification.image' "$meta")
  kc "$c" set image deployment/notification "app=$ref" >>"$OUT/logs/warm.log" 2>&1
  wait_ready "$c" notification
  result warm slipway "$i" "$(since "$t0")" statuses "$(jq -r '[.services[] | .status] | group_by(.) | map("\(.[0])=\(length)") | join(",")' "$meta")"
  restore_service
  mapfile -t wrefs < <(meta_refs "$meta")
  record_refs "${wrefs[@]}"
}
warm_classic() { # CLUSTER ROUND
  local c=$1 i=$2 t0 ref
  ref=$(pref notification "wk$i")
  change_service "$ID-wk$i"
  t0=$(now)
  docker_build notification "$ref"
  record_refs "$ref"
  kind load docker-image --name "$c" "$ref" >>"$OUT/logs/warm.log" 2>&1
  kc "$c" set image deployment/notification "app=$ref" >>"$OUT/logs/warm.log" 2>&1
  wait_ready "$c" notification
  result warm classic "$i" "$(since "$t0")"
  restore_service
}

# unpack: time to Ready pods with and without unpacking at import.
unpack_round() { # MODE REPEAT REF...
  local mode=$1 rep=$2 c=$ID-u${1:0:2}$2 t0 tl s ref; shift 2
  create_cluster "$c"
  kc "$c" wait --for=condition=Ready nodes --all --timeout=5m >>"$OUT/logs/kubectl-$c.log" 2>&1
  # The default ServiceAccount exists before anything is timed.
  until kc "$c" get serviceaccount default >/dev/null 2>&1; do sleep 0.5; done
  t0=$(now)
  SLIPWAY_KIND_UNPACK=$mode "$SLIPWAY" load -f "$FLEET" --cluster "$c" "$@" >>"$OUT/logs/unpack.log" 2>&1
  tl=$(since "$t0")
  for ref in "$@"; do
    s=${ref#*/fleet-}
    s=${s%%:*}
    apply "$c" "$s" "$ref"
  done
  wait_ready "$c" "${SERVICES[@]}"
  result unpack "$mode" "$rep" "$(since "$t0")" load_s "$tl"
  drop_cluster "$c"
}

for rep in $(seq 1 "$REPEAT"); do
  if [[ " $SCENARIOS " == *" flows "* || " $SCENARIOS " == *" warm "* ]]; then
    if ((rep % 2 == 1)); then order=(old parallel slipway); else order=(slipway parallel old); fi
    [[ " $SCENARIOS " == *" flows "* ]] || order=(slipway)
    if [[ -n ${BENCH_P8_FLOWS:-} ]]; then # a subset, e.g. "slipway", same order
      sel=()
      for f in "${order[@]}"; do [[ " $BENCH_P8_FLOWS " == *" $f "* ]] && sel+=("$f"); done
      order=("${sel[@]}")
    fi
    for f in "${order[@]}"; do
      log "round $rep: flow $f"
      # --no-cache does not empty RUN --mount=type=cache folders (the
      # fleet's Go build cache): without this, later flows compile warm.
      docker builder prune -af --filter type=exec.cachemount >/dev/null
      "flow_$f" "$rep"
    done
  fi
  if [[ " $SCENARIOS " == *" warm "* ]]; then
    for i in $(seq 1 "$WARM"); do
      log "round $rep: warm loop $i"
      if ((i % 2 == 1)); then warm_slipway "$SLIP_CLUSTER" "$rep.$i"; warm_classic "$SLIP_CLUSTER" "$rep.$i"
      else warm_classic "$SLIP_CLUSTER" "$rep.$i"; warm_slipway "$SLIP_CLUSTER" "$rep.$i"; fi
    done
  fi
  [[ -n $SLIP_CLUSTER ]] && drop_cluster "$SLIP_CLUSTER"
  SLIP_CLUSTER=
  if [[ " $SCENARIOS " == *" unpack "* ]]; then
    # The images: one slipway build of the fleet (reused when it exists).
    "$SLIPWAY" build -f "$FLEET" --progress plain --metadata-file "$OUT/gen/unpack.meta.json" >>"$OUT/logs/unpack.log" 2>&1
    mapfile -t UREFS < <(meta_refs "$OUT/gen/unpack.meta.json")
    record_refs "${UREFS[@]}"
    if ((rep % 2 == 1)); then modes=(on-first-use at-import); else modes=(at-import on-first-use); fi
    for m in "${modes[@]}"; do
      log "round $rep: unpack $m"
      unpack_round "$m" "$rep" "${UREFS[@]}"
    done
  fi
done

bash "$ROOT/bench/summarize-p8.sh" "$RESULTS" | tee "$OUT/summary.md"
log "results: $RESULTS"
