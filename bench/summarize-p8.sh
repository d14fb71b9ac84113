#!/usr/bin/env bash
# bench/summarize-p8.sh RESULTS.jsonl: the markdown tables of a bench/p8.sh
# run. Means over the rounds, with every round's figure for the spread.
set -euo pipefail
results=${1:?usage: summarize-p8.sh results.jsonl}

defs='
  def r(n): (. * pow(10; n) | round) / pow(10; n);
  def mean(f): (map(f) | add / length);
  def rounds: map(.wall_s | r(1) | tostring) | join(" / ");
  def spread: (map(.wall_s) | (max - min) | r(1));
'

if jq -es 'any(.scenario == "flows")' "$results" >/dev/null; then
  echo "Time to an E2E-ready cluster (every fleet service a Deployment with imagePullPolicy: Never, its pod Ready), from nothing, builds --no-cache."
  echo
  echo "| flow | to every pod Ready s (rounds) | spread s | cluster created s | builds end s | last load ends s | (c) / this |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  jq -rs "$defs"'
    map(select(.scenario == "flows")) as $f
    | ($f | map(select(.method == "slipway")) | if length > 0 then mean(.wall_s) else null end) as $c
    | $f | group_by(.method) | sort_by({"old":0,"parallel":1,"slipway":2}[.[0].method]) | .[]
    | .[0].method as $m | mean(.wall_s) as $w
    | "| \({"old":"(a) old: serial builds, kind load each","parallel":"(b) parallel builds, one kind load","slipway":"(c) slipway: cluster ∥ builds, load + deploy as each build ends"}[$m]) | \($w | r(1)) (\(rounds)) | \(spread) | \(mean(.cluster_s) | r(1)) | \(mean(.builds_end_s // .builds_s) | r(1)) | \(mean(.loads_end_s) | r(1)) | \(if $c then ($c / $w | r(2) | tostring) + "x" else "?" end) |"
  ' "$results"
  echo
  jq -rs "$defs"'
    map(select(.scenario == "flows" and .method == "slipway")) | select(length > 0)
    | mean(.wall_s) as $w | mean(.longer_phase_s) as $l
    | "(c) against the longer of its own cluster creation and its own `slipway build` (both inside (c), overlapped): \($w | r(1)) s / \($l | r(1)) s = **\($w / $l | r(2))x** (goal ≤ 1.1x: \(if $w / $l <= 1.1 then "met" else "**not met**" end)); per round: \(map("\(.wall_s | r(1)) / \(.longer_phase_s | r(1))") | join(", "))."
  ' "$results"
  echo
fi

if jq -es 'any(.scenario == "warm")' "$results" >/dev/null; then
  echo "Warm loop: one line of one Go service (notification) changed → its new pod Ready."
  echo
  echo "| method | s (rounds) | spread s | slipway / classic |"
  echo "|---|---|---:|---:|"
  jq -rs "$defs"'
    map(select(.scenario == "warm")) as $all
    | ($all | map(select(.method == "slipway")) | mean(.wall_s)) as $s
    | ($all | map(select(.method == "classic")) | mean(.wall_s)) as $k
    | $all | group_by(.method) | sort_by({"slipway":0,"classic":1}[.[0].method]) | .[]
    | .[0].method as $m
    | "| \({"slipway":"slipway build --kind (7 reused) + kubectl set image","classic":"docker build + kind load docker-image + kubectl set image"}[$m]) | \(mean(.wall_s) | r(1)) (\(rounds)) | \(spread) | \(if $m == "slipway" then ($s / $k | r(2) | tostring) + "x" else "" end) |"
  ' "$results"
  jq -rs 'map(select(.scenario == "warm" and .method == "slipway")) | .[] | "- slipway round \(.repeat): \(.statuses)"' "$results"
  echo
fi

if jq -es 'any(.scenario == "unpack")' "$results" >/dev/null; then
  echo "No-unpack decision: \`slipway load\` of the 8 fleet images into a fresh Ready 2-node cluster, apply, every pod Ready (from the load's start)."
  echo
  echo "| import | to every pod Ready s (rounds) | spread s | load s | apply → Ready s | / at-import |"
  echo "|---|---|---:|---:|---:|---:|"
  jq -rs "$defs"'
    map(select(.scenario == "unpack")) as $all
    | ($all | map(select(.method == "at-import")) | if length > 0 then mean(.wall_s) else null end) as $u
    | $all | group_by(.method) | sort_by({"on-first-use":0,"at-import":1}[.[0].method]) | .[]
    | .[0].method as $m
    | "| \({"on-first-use":"--no-unpack (CRI unpacks on first start)","at-import":"unpacking at import"}[$m]) | \(mean(.wall_s) | r(1)) (\(rounds)) | \(spread) | \(mean(.load_s) | r(1)) | \(mean(.wall_s - .load_s) | r(1)) | \(if $u then (mean(.wall_s) / $u | r(3) | tostring) + "x" else "?" end) |"
  ' "$results"
fi
