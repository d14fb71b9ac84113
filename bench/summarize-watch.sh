#!/usr/bin/env bash
# bench/summarize-watch.sh RESULTS.jsonl: the markdown table of a
# bench/watch.sh run. Means over the rounds; ratio = watch / hand.
set -euo pipefail
results=${1:?usage: summarize-watch.sh results.jsonl}
echo "| method | edit to image on both nodes, s: mean (rounds) | min–max | watch / hand | goal | met | load avg (1 min) at start |"
echo "|---|---|---|---:|---|---|---|"
jq -rs '
  def r(n): (. * pow(10; n) | round) / pow(10; n);
  def mean(f): (map(f) | add / length);
  map(select(.extra.scenario == "change")) as $all
  | ($all | map(select(.extra.method == "hand" and .exit_code == 0))) as $h
  | ($all | map(select(.extra.method == "watch" and .exit_code == 0))) as $w
  | ($h | mean(.wall_s)) as $hm | ($w | mean(.wall_s)) as $wm
  | ($wm / $hm) as $ratio
  | (["hand", $h], ["watch", $w])
  | .[0] as $m | .[1] as $rs
  | "| \($m) | \($rs | mean(.wall_s) | r(2)) (\($rs | map(.wall_s | r(2) | tostring) | join(" / "))) | \($rs | map(.wall_s) | min | r(2))–\($rs | map(.wall_s) | max | r(2)) | \(if $m == "watch" then "\($ratio | r(2))x" else "" end) | \(if $m == "watch" then "≤ 0.5x" else "" end) | \(if $m == "watch" then (if $ratio <= 0.5 then "yes" else "**no**" end) else "" end) | \($rs | map(.loadavg | split(" ")[0]) | join(", ")) |"
' "$results"
n_fail=$(jq -s 'map(select(.exit_code != 0)) | length' "$results")
if [[ $n_fail != 0 ]]; then echo; echo "$n_fail measured runs failed (left out of the means)."; fi
echo
echo "The watch's own figures (first file event to image on nodes), by round: $(jq -rs 'map(select(.extra.method == "watch") | .extra.took) | join(" / ")' "$results")"
echo
echo "Where each round's time went, s (hand: the build and kind load as timed around them; watch: from the cycle's run record — pre = first file event to run start: debounce, digests, plan; setup = run start to the build; load = image ready to on both nodes). *go* is the \`go build\` RUN step, the same work in both loops; *rest* = total − go:"
echo
echo "| method | round | total | go build step | rest | split |"
echo "|---|---:|---:|---:|---:|---|"
jq -rs '
  def r(n): (. * pow(10; n) | round) / pow(10; n);
  map(select(.extra.scenario == "change" and .exit_code == 0))
  | sort_by(.extra.method, (.extra.repeat | tonumber)) | .[]
  | (.extra.split // "") as $sp
  | ([$sp | scan("go=([0-9.]+)") | .[0] | tonumber] | first // null) as $go
  | "| \(.extra.method) | \(.extra.repeat) | \(.wall_s | r(1)) | \(if $go then ($go | r(1)) else "" end) | \(if $go then (.wall_s - $go | r(1)) else "" end) | \($sp) |"
' "$results"
echo
jq -rs '
  def r(n): (. * pow(10; n) | round) / pow(10; n);
  def rest: (.extra.split // "" | [scan("go=([0-9.]+)") | .[0] | tonumber] | first) as $go | if $go then .wall_s - $go else null end;
  map(select(.extra.scenario == "change" and .exit_code == 0))
  | (map(select(.extra.method == "hand") | rest) | map(select(. != null))) as $h
  | (map(select(.extra.method == "watch") | rest) | map(select(. != null))) as $w
  | if ($h | length) > 0 and ($w | length) > 0 then
      "Rest (total − go build step), mean: hand \($h | add / length | r(2)) s, watch \($w | add / length | r(2)) s: \(($w | add / length) / ($h | add / length) | r(2))x."
    else empty end
' "$results"
