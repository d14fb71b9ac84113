#!/usr/bin/env bash
# bench/scale-plot.sh RESULTS.jsonl OUT.png: the plot of a bench/scale.sh
# run (wall time against N, per method, cold and warm), drawn as SVG by
# bench/cmd/scaleplot and rendered to PNG by headless Chromium.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
results=${1:?usage: scale-plot.sh results.jsonl out.png}
out=${2:?usage: scale-plot.sh results.jsonl out.png}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash "$ROOT/bench/summarize-scale.sh" -csv "$results" >"$tmp/scale.csv"
(cd "$ROOT" && go run ./bench/cmd/scaleplot -in "$tmp/scale.csv" -out "$tmp/scale.svg" ${PLOT_TITLE:+-title "$PLOT_TITLE"})
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1100,480 \
  --screenshot="$tmp/scale.png" "file://$tmp/scale.svg" >/dev/null 2>&1
mv "$tmp/scale.png" "$out"
echo "$out"
