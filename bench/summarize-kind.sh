#!/usr/bin/env bash
# bench/summarize-kind.sh RESULTS.jsonl: the markdown tables of a
# bench/kindload.sh run. Means over the rounds; ratio = slipway / kind.
set -euo pipefail
results=${1:?usage: summarize-kind.sh results.jsonl}

if jq -es 'any(.extra.scenario != "coldstart")' "$results" >/dev/null; then
echo "| scenario | kind s (rounds) | slipway s (rounds) | slipway/kind | goal | met | peak temp bytes kind / slipway | peak mem MiB kind / slipway | tool max RSS MiB kind / slipway | load avg (1 min) at start |"
echo "|---|---|---|---:|---|---|---|---|---|---|"
jq -rs '
  def r(n): (. * pow(10; n) | round) / pow(10; n);
  def mean(f): (map(f) | add / length);
  def rounds: map(.wall_s | tostring) | join(" / ");
  def goal(s): {"cold": "≤ 0.5x kind, 0 temp bytes", "present": "slipway ≤ 0.3 s", "changed": "≤ 0.2x kind"}[s];
  def met(s; k; w; t): if s == "cold" then (w / k <= 0.5 and t == 0)
                       elif s == "present" then (w <= 0.3)
                       else (w / k <= 0.2) end;
  map(select(.extra.scenario != "coldstart" and (.extra.method == "kind" or .extra.method == "slipway")))
  | group_by(.extra.scenario)
  | sort_by({"cold":0,"present":1,"changed":2}[.[0].extra.scenario])
  | .[]
  | .[0].extra.scenario as $s
  | (map(select(.extra.method == "kind"))) as $k
  | (map(select(.extra.method == "slipway"))) as $w
  | ($k | mean(.wall_s)) as $km | ($w | mean(.wall_s)) as $wm
  | ($w | map(.watch_peak_bytes) | max) as $wt
  | "| \($s) | \($km | r(2)) (\($k | rounds)) | \($wm | r(2)) (\($w | rounds)) | \($wm / $km | r(2))x | \(goal($s)) | \(if met($s; $km; $wm; $wt) then "yes" else "**no**" end) | \($k | map(.watch_peak_bytes) | max) / \($wt) | \($k | mean(.mem_peak_delta_mib) | r(0)) / \($w | mean(.mem_peak_delta_mib) | r(0)) | \($k | map(.tool_maxrss_mib) | max) / \($w | map(.tool_maxrss_mib) | max) | \(map(.loadavg | split(" ")[0]) | join(", ")) |"
' "$results"
fi
if jq -es 'any(.extra.scenario == "coldstart")' "$results" >/dev/null; then
  echo
  echo "Cold load plus a first container start from every image on every node (coldstart), against the floor (one \`docker save\` into an unpacking \`ctr images import\` on both nodes at once). Goal: slipway ≤ 1.02x floor."
  echo
  echo "| method | load + first starts s (rounds) | load s | first starts s | / floor | goal met |"
  echo "|---|---|---:|---:|---:|---|"
  jq -rs '
    def r(n): (. * pow(10; n) | round) / pow(10; n);
    def mean(f): (map(f) | add / length);
    map(select(.extra.scenario == "coldstart" and .exit_code == 0)) as $all
    | ($all | map(select(.extra.method == "floor")) | mean(.wall_s)) as $floor
    | $all | group_by(.extra.method)
    | sort_by({"floor":0,"kind":1,"slipway":2,"slipway-unpack":3,"slipway-defer":4}[.[0].extra.method])
    | .[]
    | .[0].extra.method as $m | mean(.wall_s) as $w
    | "| \($m) | \($w | r(2)) (\(map(.wall_s | tostring) | join(" / "))) | \(mean(.extra.load_s | tonumber? // 0) | r(2)) | \(mean(.extra.start_s | tonumber? // 0) | r(2)) | \(if $floor then ($w / $floor | r(3) | tostring) + "x" else "?" end) | \(if $m == "slipway" then (if $floor and $w / $floor <= 1.02 then "yes" else "**no**" end) else "" end) |"
  ' "$results"
fi
echo
jq -rs '
  map(select(.exit_code != 0)) | .[] | "- FAILED: \(.label) round \(.extra.repeat) (exit \(.exit_code))"' "$results"
jq -rs '
  map(select(.extra.method == "rebuild")) | .[] | "- changed round \(.extra.repeat): slipway rebuild \(.wall_s) s (\(.extra.statuses // "?"))"' "$results"
