#!/usr/bin/env bash
# bench/scale-phases.sh METADATA.json...: where a slipway build's time went,
# per service, from the run record (--metadata-file) of a bench/scale.sh run:
# the median and maximum over the services of each phase, in ms.
#   inputs   hashing the context (and, warm, re-tagging the reused image)
#   slot     waiting for a build slot
#   setup    build start to its first Dockerfile step: BuildKit session,
#            definition, base image metadata, context transfer
#   copy     the COPY step;  run: the RUN step
#   export   the RUN's end to the build's end: the image into the engine
set -euo pipefail
for f in "$@"; do
  echo "### $(basename "$f")"
  jq -r '
    def t: (.[0:19] + "Z" | fromdate) + ((.[19:] | capture("^\\.(?<f>[0-9]+)") | ("0." + .f | tonumber)) // 0);
    def ms(a; b): if a and b then ((b | t) - (a | t)) * 1000 else null end;
    def stat(f): (map(f) | map(select(. != null)) | sort) as $v
      | if ($v | length) == 0 then "-" else "\($v[($v | length) / 2 | floor] | round) / \($v[-1] | round)" end;
    [.services[] | .timing as $t
      | ($t.steps // []) as $s
      | ($s | map(select(.name | test("\\] RUN "))) | .[0].span) as $run
      | ($s | map(select(.name | test("\\] COPY "))) | .[0].span) as $copy
      | { inputs: ms($t.inputs.start; $t.inputs.end),
          slot: ms($t.inputs.end; $t.build.start),
          setup: ms($t.build.start; ($s[0].span.start // null)),
          copy: ms($copy.start; $copy.end),
          run: ms($run.start; $run.end),
          export: ms($run.end; $t.build.end),
          build: ms($t.build.start; $t.build.end) }] as $rows
    | "| phase | median ms / max ms (\($rows | length) services) |",
      "|---|---:|",
      (["inputs", "slot", "setup", "copy", "run", "export", "build"][] as $k | "| \($k) | \($rows | stat(.[$k])) |")
  ' "$f"
done
