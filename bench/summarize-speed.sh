#!/usr/bin/env bash
# bench/summarize-speed.sh RESULTS.jsonl [WAITING_RESULTS.jsonl]: the markdown
# table of a bench/speed.sh run (means over the rounds, each round's wall
# times in brackets).
set -euo pipefail
results=${1:?usage: summarize-speed.sh results.jsonl [waiting/results.jsonl]}
waiting=${2:-}

echo "| scenario | slipway s (rounds) | baseline | baseline s (rounds) | ratio | goal | met | peak mem MiB slipway / baseline | slipway max RSS MiB | load avg (1 min) at start |"
echo "|---|---|---|---|---:|---|---|---|---:|---|"
jq -rs '
  def r(n): (. * pow(10; n) | round) / pow(10; n);
  def mean(f): (map(f) | add / length);
  def rounds: map(.wall_s | tostring) | join(" / ");
  def m(x): map(select(.extra.method == x));
  def la: map(.loadavg | split(" ")[0]) | join(", ");
  . as $all
  | (map(select(.extra.scenario == "warm")) | select(length > 0)
     | (m("slipway")) as $s | (m("bake")) as $b
     | ($s | mean(.wall_s)) as $sm | ($b | mean(.wall_s)) as $bm
     | "| warm, nothing changed (\($s[0].extra.statuses // "?")) | \($sm | r(2)) (\($s | rounds)) | bake, warm | \($bm | r(2)) (\($b | rounds)) | \($sm / $bm | r(2))x vs bake | slipway ≤ 0.3 s | \(if $sm <= 0.3 then "yes" else "**no**" end) | \($s | mean(.mem_peak_delta_mib) | r(0)) / \($b | mean(.mem_peak_delta_mib) | r(0)) | \($s | map(.tool_maxrss_mib) | max) | \(la) |"),
    (map(select(.extra.scenario == "changed" and .extra.change_compiled != "no")) | select(length > 0)
     | (m("slipway")) as $s | (m("single")) as $b
     | ($s | mean(.wall_s)) as $sm | ($b | mean(.wall_s)) as $bm
     | "| one Go service changed (\($s[0].extra.statuses // "?")) | \($sm | r(2)) (\($s | rounds)) | that one build alone (docker buildx build) | \($bm | r(2)) (\($b | rounds)) | \($sm / $bm | r(2))x | ≤ 1.1x | \(if $sm / $bm <= 1.1 then "yes" else "**no**" end) | \($s | mean(.mem_peak_delta_mib) | r(0)) / \($b | mean(.mem_peak_delta_mib) | r(0)) | \($s | map(.tool_maxrss_mib) | max) | \(la) |"),
    (map(select(.extra.scenario == "e2e")) | select(length > 0)
     | (m("build+kind")) as $t | (m("build")) as $b | (m("load")) as $l
     | ($t | mean(.wall_s)) as $tm | ($b | mean(.wall_s)) as $bm | ($l | mean(.wall_s)) as $lm
     | ([$bm, $lm] | max) as $mx
     | "| cold build + Kind load (--no-cache --kind) | \($tm | r(2)) (\($t | rounds)) | phases: build \($bm | r(2)) (\($b | rounds)), load \($lm | r(2)) (\($l | rounds)) | max \($mx | r(2)), sum \(($bm + $lm) | r(2)) | \($tm / $mx | r(2))x max, \($tm / ($bm + $lm) | r(2))x sum | ≤ 1.1x the longer phase | \(if $tm / $mx <= 1.1 then "yes" else "**no**" end) | \($t | mean(.mem_peak_delta_mib) | r(0)) / \($b | mean(.mem_peak_delta_mib) | r(0)) (build), \($l | mean(.mem_peak_delta_mib) | r(0)) (load) | \($t | map(.tool_maxrss_mib) | max) | \(la) |")
' "$results"
if [[ -n $waiting && -s $waiting ]]; then
  jq -rs '
    def r(n): (. * pow(10; n) | round) / pow(10; n);
    def mean(f): (map(f) | add / length);
    def rounds: map(.wall_s | tostring) | join(" / ");
    def m(x): map(select(.extra.method == x));
    map(select(.extra.scenario == "waiting"))
    | (m("slipway")) as $s | (m("bake")) as $b | (m("serial")) as $se
    | ($s | mean(.wall_s)) as $sm | ($b | mean(.wall_s)) as $bm
    | ($se | mean(.extra.longest_single_s | tonumber)) as $lg
    | "| waiting fleet (6 x RUN sleep 8), default jobs | \($sm | r(2)) (\($s | rounds)) | longest single build; bake | \($lg | r(2)) (\($se | map(.extra.longest_single_s) | join(" / "))); bake \($bm | r(2)) (\($b | rounds)) | \($sm / $lg | r(2))x longest, \($sm / $bm | r(2))x bake | ≤ 1.2x longest single | \(if $sm / $lg <= 1.2 then "yes" else "**no**" end) | \($s | mean(.mem_peak_delta_mib) | r(0)) / \($b | mean(.mem_peak_delta_mib) | r(0)) (bake) | - | \(if all(.[]; .loadavg) then (map(.loadavg | split(" ")[0]) | join(", ")) else "-" end); busy cores before ≤ \(map(.idle_busy_rate) | max) |"
  ' "$waiting"
fi
echo
jq -rs 'map(select(.extra.change_compiled == "no")) | .[] | "- INVALID (left out): \(.label) round \(.extra.repeat), \(.wall_s) s: the one-line change was not compiled (the file was restored by someone else meanwhile)"' "$results"
jq -rs 'map(select(.exit_code != 0)) | .[] | "- FAILED: \(.label) round \(.extra.repeat) (exit \(.exit_code))"' "$results"
jq -rs 'map(select(.extra.max_service_s != null)) | .[] | "- \(.label) round \(.extra.repeat): \(.wall_s) s, statuses \(.extra.statuses), longest service \(.extra.max_service_s) s, temp bytes \(.watch_peak_bytes)"' "$results"
