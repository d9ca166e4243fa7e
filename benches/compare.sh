#!/usr/bin/env bash
# Before/after: the commands of every benchmark in BENCHMARKS.md, timed for two
# builds of `journal` in the same hyperfine run (so the ratio holds on a busy
# machine). Prints a Markdown table with the ratio after/before.
#
#   benches/compare.sh OLD_BINARY [NEW_BINARY=target/release/journal] [SIZE=512M]
#
# Build the old binary from a checkout of the earlier commit, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build --release)
source "$(dirname "$0")/common.sh"
OLD=${1:?usage: benches/compare.sh OLD_BINARY [NEW_BINARY] [SIZE]}
NEW=${2:-$JOURNAL}
prepare "${3:-512M}"
RUNS=${RUNS:-10}
cat "$J"/events-*.jsonl > /dev/null   # warm the page cache

first_session=$(head -n 1 "$(ls "$J"/events-*.jsonl | sort | head -n 1)" | jq -r .session_id)
mid_segment=$(ls "$J"/events-*.jsonl | sort | sed -n "$(( $(ls "$J"/events-*.jsonl | wc -l) / 2 ))p")
rare=$(sed -n 1000p "$mid_segment" | jq -r '.event | (.message_id // .run_id // .session_id // .type)')

rows=(
  "inspect -n 20 -o raw|inspect -n 20 -o raw $J"
  "inspect -n 20 -o table|inspect -n 20 -o table $J"
  "inspect -n 20 -t error|inspect -n 20 -t error $J"
  "inspect -n 20 --session <first session>|inspect -n 20 --session $first_session $J"
  "inspect -n 1 -g <rare literal>|inspect -n 1 -g $rare $J"
  "inspect --all -g <rare literal>|inspect --all -g $rare $J"
  "inspect --all --oldest-first -o raw|inspect --all --oldest-first -o raw $J"
  "recover|recover $J"
  "stats --json|stats --json $J"
  "verify -q|verify -q $J"
)
echo "| command ($SIZE journal) | before | after | after/before |"
echo "|---|---:|---:|---:|"
for row in "${rows[@]}"; do
  name=${row%%|*}; args=${row#*|}
  runs=$RUNS
  case $name in *--all*|stats*|verify*) runs=$(( RUNS < 5 ? RUNS : 5 ));; esac
  json=$(mktemp)
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$json" --output=null \
    -n before "$OLD $args" -n after "$NEW $args" >/dev/null 2>&1 || true
  python3 - "$json" "$name" <<'PY'
import json, sys
r = {x["command"]: x["mean"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print("| `journal %s` | %.2f ms | %.2f ms | %.2f |" % (sys.argv[2], r["before"], r["after"], r["after"] / r["before"]))
PY
  rm -f "$json"
done
