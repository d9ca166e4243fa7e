#!/usr/bin/env bash
# Issue 14's table: each `journal` command and the tool people would use,
# measured in the same hyperfine run (page cache warm), peak RSS of the
# journal side, and the ratio journal / baseline (below 1 is ahead): of the
# medians, and in the last column of the means.
# Journals come from examples/gen_journal.rs: 512 MiB in 8 MiB segments
# (64), and 64 MiB in ~7 KiB segments (rotating at 5000 bytes) (~9,000). Prints Markdown.
# Run by hand: bash benches/issue14.sh   (RUNS=10 for a quicker run;
# BEFORE=path/to/an/older/journal adds a table of this build against it)
source "$(dirname "$0")/common.sh"
DATA=${BENCH_DATA:-$ROOT/bench-data/issue14}
mkdir -p "$DATA"
build
gen() { # gen NAME ARGS...: a generated journal, made once
  local dir="$DATA/$1"; shift
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"
    "$ROOT/target/release/examples/gen_journal" --seed 1 "$@" "$dir" >&2
    touch "$dir/.done"
  fi
  echo "$dir"
}
big=$(gen big --size 512M)
many=$(gen many --size 64M --rotate-bytes 5000)
J=$JOURNAL
segs() { ls "$1"/events-*.jsonl | sort "${@:2}" | tr '\n' ' '; }
newest() { ls "$1"/events-*.jsonl | sort | tail -n 1; }

# pair NAME JOURNAL_CMD BASELINE_CMD: one hyperfine run of both; prints a row.
pair() {
  local json; json=$(mktemp)
  hyperfine --warmup 3 --runs "$RUNS" --export-json "$json" --output=null \
    "$2" "$3" >/dev/null 2>&1 || { echo "| $1 | failed | | | | |"; return; }
  local peak; peak=$(peak_mib bash -c "$2")
  python3 - "$json" "$1" "$4" "$peak" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
a, b = r[0]["mean"] * 1000, r[1]["mean"] * 1000
# The median too: a baseline with a pipe (cat | wc -l) has a long tail
# of slow runs on a shared machine, which the mean carries.
am, bm = r[0]["median"] * 1000, r[1]["median"] * 1000
print(f"| {sys.argv[2]} | {a:.1f} ms | {sys.argv[3]} {b:.1f} ms | {sys.argv[4]} MiB | {am / bm:.2f} | {a / b:.2f} |")
PY
  rm -f "$json"
}

# The ts 1 % of the bytes before the end of the big journal.
since=$(cat $(segs "$big") | tail -c $(( $(cat "$big"/events-*.jsonl | wc -c) / 100 )) | sed -n 2p | jq -r .ts)
# A rare session: the generator's short-lived sessions have 2 to 6 events
# (the one with the fewest, first by id when several tie).
rare_session=$(rg -o --no-filename '"session_id":"[^"]*"' "$big" | sort | uniq -c | sort -k1,1n -k2 | awk "NR == 1" | sed 's/.*"session_id":"\([^"]*\)"/\1/')
# A literal that occurs once, from the middle of the big journal.
# (one awk, no pipe: with pipefail, a reader that stops at its first match
# kills the writer before it with SIGPIPE, and the script with it)
rare=$(awk 'NR >= 1000 && match($0, /"message_id":"[^"]*"/) { print substr($0, RSTART + 14, RLENGTH - 15); exit }' \
  "$(ls "$big"/events-*.jsonl | sort | sed -n 32p)")
bytes=$(cat "$big"/events-*.jsonl | wc -c)
lines=$(cat "$big"/events-*.jsonl | wc -l)

echo "512 MiB journal: $(ls "$big"/events-*.jsonl | wc -l) segments, $lines events, $((bytes / lines)) bytes a line on average; small-segment journal: $(ls "$many"/events-*.jsonl | wc -l) segments. RUNS=$RUNS."
echo
echo "| job | \`journal\` (mean) | the tool people would use (mean) | peak RSS (journal) | ratio of medians | ratio (of means) |"
echo "|---|---|---|---|---|---|"
pair "newest 20" "$J inspect -n 20 -o raw $big" "tac $(newest "$big") | head -20" "\`tac | head -20\`"
pair "max seq" "$J recover $big" "tail -n 1 $(newest "$big") | jq .seq" "\`tail -n1 | jq .seq\`"
pair "rare session ($(rg -c -F --no-filename "$rare_session" "$big" | awk '{s += $1} END {print s}') lines), newest 20" "$J inspect -n 20 -o raw --session $rare_session $big" "rg -F --no-filename $rare_session $(segs "$big") | tail -20" "\`rg -F | tail -20\`"
pair "rare literal (one message_id), newest 20" "$J inspect -n 20 -o raw -g $rare $big" "rg -F --no-filename $rare $(segs "$big") | tail -20" "\`rg -F | tail -20\`"
pair "verify" "$J verify $big" "cat $(segs "$big") | jq empty" "\`jq empty\` (jaq not installed)"
pair "events of the last 1 % (\`inspect --all --since T\`)" "$J inspect --all -o raw --since $since $big" \
  "tac $(segs "$big" -r) | awk -v t=$since 'match(\$0, /\"ts\":\"[^\"]*\"/) { if (substr(\$0, RSTART + 6, RLENGTH - 7) < t) exit } { print }'" "\`tac | awk\` to the first older ts"
pair "count by type (\`stats\`)" "$J stats $big" "rg -N --no-filename -o '\"type\":\"[^\"]*\"' $big | sort | uniq -c" "\`rg -o | sort | uniq -c\`"
pair "full dump (\`inspect --all --oldest-first -o raw\`)" "$J inspect --all --oldest-first -o raw $big" "cat $(segs "$big") | wc -l" "\`cat | wc -l\`"
pair "newest 20 on $(ls "$many"/events-*.jsonl | wc -l) segments" "$J inspect -n 20 -o raw $many" "$J inspect -n 20 -o raw $big" "itself on 64 segments:"
pair "recover on $(ls "$many"/events-*.jsonl | wc -l) segments" "$J recover $many" "$J recover $big" "itself on 64 segments:"
# The two rows above read the directory listing from the listing cache
# (written by hyperfine's warm-up runs: the journal is settled); the same
# commands reading the directory itself, for comparison:
pair "newest 20 on $(ls "$many"/events-*.jsonl | wc -l) segments, no listing cache" "JOURNAL_NO_CACHE=1 $J inspect -n 20 -o raw $many" "$J inspect -n 20 -o raw $big" "itself on 64 segments:"
pair "recover on $(ls "$many"/events-*.jsonl | wc -l) segments, no listing cache" "JOURNAL_NO_CACHE=1 $J recover $many" "$J recover $big" "itself on 64 segments:"

# With BEFORE=path/to/another/journal binary (an older build): every row's
# journal command again, this build against that one in one hyperfine run
# each, ratio this/before (issue 14's "no regression elsewhere"). The other
# build keeps its listing cache apart (JOURNAL_CACHE_DIR), so that neither
# reads or rewrites the other's cache files.
if [ -n "${BEFORE:-}" ]; then
  B="env JOURNAL_CACHE_DIR=$DATA/cache-before $BEFORE"
  echo
  echo "This build against \`$BEFORE\` (same journals, RUNS=$RUNS):"
  echo
  echo "| job | this build (mean) | before (mean) | peak RSS (this build) | ratio of medians | ratio (of means) |"
  echo "|---|---|---|---|---|---|"
  while IFS='|' read -r name args; do
    pair "$name" "$J $args" "$B $args" "before:"
  done <<ROWS
newest 20|inspect -n 20 -o raw $big
max seq|recover $big
rare session, newest 20|inspect -n 20 -o raw --session $rare_session $big
rare literal, newest 20|inspect -n 20 -o raw -g $rare $big
verify|verify $big
events of the last 1 %|inspect --all -o raw --since $since $big
count by type (stats)|stats $big
full dump|inspect --all --oldest-first -o raw $big
newest 20 on the small-segment journal|inspect -n 20 -o raw $many
recover on the small-segment journal|recover $many
ROWS
fi
