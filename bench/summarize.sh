#!/usr/bin/env bash
# bench/summarize.sh RESULTS.jsonl: the markdown table of a bench/run.sh run.
# Numbers are means over the rounds; ratios compare means within a scenario.
set -euo pipefail
results=${1:?usage: summarize.sh results.jsonl}

jq -rs '
  def r(n): (. * pow(10; n) | round) / pow(10; n);
  def mean(f): (map(f) | add / length);
  group_by(.extra.scenario) | map(
    . as $runs
    | ($runs | map(select(.extra.method == "serial" and .exit_code == 0)) | if length > 0 then mean(.wall_s) else null end) as $serial
    | ($runs | map(select(.extra.method == "bake" and .exit_code == 0)) | if length > 0 then mean(.wall_s) else null end) as $bake
    | ($runs | map(select(.extra.method == "serial" and .extra.longest_single_s != null)) | if length > 0 then mean(.extra.longest_single_s | tonumber) else null end) as $longest
    | $runs | group_by(.extra.method) | map(
        (.[0].extra.scenario) as $s | (.[0].extra.method) as $m
        | (mean(.wall_s)) as $w
        | [ $s, $m + (if .[0].extra.jobs then " (jobs " + .[0].extra.jobs + ")" else "" end),
            (length | tostring),
            (map(.exit_code) | map(tostring) | join(",")),
            ($w | r(1) | tostring),
            (mean(.cpu_busy_s) | r(1) | tostring),
            (mean(.utilisation) * 100 | r(0) | tostring) + "%",
            (mean(.wall_over_cpu_per_core) | r(2) | tostring),
            (mean(.mem_peak_delta_mib) | r(0) | tostring),
            (mean([.cgroups[]? | .rss_peak_delta_mib] | add // 0) | r(0) | tostring),
            (if $serial then ($w / $serial | r(2) | tostring) + "x" else "-" end),
            (if $bake then ($w / $bake | r(2) | tostring) + "x" else "-" end),
            (if $longest and $s == "waiting" then ($w / $longest | r(2) | tostring) + "x" else "-" end),
            (mean(.idle_busy_rate) | r(2) | tostring)
          ] | "| " + join(" | ") + " |")
    ) | flatten | .[]
' "$results" | {
  echo "| scenario | method | runs | exit | wall s | CPU busy s | utilisation | wall/(CPU/cores) | peak mem MiB | engine cgroup RSS MiB | vs serial | vs bake | vs longest single | noise before (cores) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  cat
}

echo
jq -rs '
  map(select(.extra.method == "serial" and .extra.longest_single_s != null))
  | .[] | "- \(.extra.scenario) round \(.extra.repeat): longest single build in the serial loop \(.extra.longest_single_s) s"' "$results"
jq -rs '
  map(select(.extra.slipway_max_service_s != null))
  | .[] | "- \(.extra.scenario) \(.extra.method) round \(.extra.repeat): longest service inside the slipway run \(.extra.slipway_max_service_s) s"' "$results"
