#!/usr/bin/env bash
# bench/summarize-scale.sh RESULTS.jsonl: the markdown table of a
# bench/scale.sh run, and (with -csv) one CSV line per phase/method/N for
# the plot (bench/cmd/scaleplot). Means over the successful rounds; the
# ratio compares means with bake's in the same phase and N; min–max is the
# spread between rounds.
set -euo pipefail
csv=0
if [[ ${1:-} == -csv ]]; then csv=1; shift; fi
results=${1:?usage: summarize-scale.sh [-csv] results.jsonl}

if [[ $csv == 1 ]]; then
  echo "phase,method,n,mean_s,min_s,max_s,ok_runs,runs"
  jq -rs '
    def mean(f): (map(f) | add / length);
    group_by([.extra.phase, .extra.method, (.extra.n | tonumber)]) | .[]
    | (map(select(.exit_code == 0 and ((.extra.failed // 0) == 0)))) as $ok
    | [.[0].extra.phase, .[0].extra.method, .[0].extra.n,
       (if ($ok | length) > 0 then ($ok | mean(.wall_s)) else "" end),
       (if ($ok | length) > 0 then ($ok | map(.wall_s) | min) else "" end),
       (if ($ok | length) > 0 then ($ok | map(.wall_s) | max) else "" end),
       ($ok | length), length] | map(tostring) | join(",")' "$results"
  exit 0
fi

jq -rs '
  def r(n): (. * pow(10; n) | round) / pow(10; n);
  def mean(f): (map(f) | add / length);
  def ok: map(select(.exit_code == 0 and ((.extra.failed // 0) == 0)));
  group_by([.extra.phase, (.extra.n | tonumber)]) | map(
    . as $runs
    | ($runs | map(select(.extra.method == "bake")) | ok | if length > 0 then mean(.wall_s) else null end) as $bake
    | $runs | group_by(.extra.method) | map(
        (.[0].extra.phase) as $p | (.[0].extra.method) as $m | (.[0].extra.n | tonumber) as $n
        | ok as $ok
        | (if ($ok | length) > 0 then ($ok | mean(.wall_s)) else null end) as $w
        | [ $p, ($n | tostring), $m,
            (($ok | length | tostring) + "/" + (length | tostring)),
            (if $w then ($w | r(2) | tostring) else "failed" end),
            (if $w then (($ok | map(.wall_s) | min | r(2) | tostring) + "–" + ($ok | map(.wall_s) | max | r(2) | tostring)) else "-" end),
            (if $w then ($w / $n * 1000 | r(0) | tostring) else "-" end),
            (if $w and $bake then ($w / $bake | r(2) | tostring) + "x" else "-" end),
            (map(.extra.built // "-" | tostring) | join("/")),
            (map(.extra.reused // "-" | tostring) | join("/")),
            (map(.exit_code | tostring) | join(",")),
            (mean(.idle_busy_rate) | r(2) | tostring),
            (map(.extra.load // "-") | join("/"))
          ] | "| " + join(" | ") + " |")
    ) | flatten | .[]
' "$results" | {
  echo "| phase | N | method | ok runs | wall s (mean) | min–max s | ms per service | vs bake | built | reused | exit codes | busy cores before | load avg (1 min) before |"
  echo "|---|---:|---|---|---:|---|---:|---:|---|---|---|---:|---|"
  cat
}
