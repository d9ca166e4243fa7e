#!/usr/bin/env bash
# Counting events by type on a generated journal: `journal stats` against
# ripgrep (`rg -o '"type":"[^"]*"' | sort | uniq -c`) and jq, in one
# hyperfine run so the ratios hold on a busy machine.
#
#   benches/stats.sh [SIZE=512M]
#
# Needs: hyperfine, ripgrep, jq (apt-get install hyperfine ripgrep jq).
# All three run on the same journal in one hyperfine invocation (the page cache
# is warmed first). The 64 MiB copy is only used to check jq's counts quickly.
source "$(dirname "$0")/common.sh"
prepare "${1:-512M}"
SMALL=$(journal_of 64M)
cat "$J"/events-*.jsonl "$SMALL"/events-*.jsonl > /dev/null   # warm the page cache

echo "== type counts agree (journal stats vs rg vs jq on the 64M copy)"
diff <("$BIN" stats --json "$J" | jq -r '.types | to_entries[] | "\(.value) \(.key)"' | sort) \
     <(rg -o --no-filename '"type":"[^"]*"' "$J" | sed 's/"type":"//; s/"$//' | sort | uniq -c | awk '{print $1, $2}' | sort)
diff <("$BIN" stats --json "$SMALL" | jq -r '.types | to_entries[] | "\(.value) \(.key)"' | sort) \
     <(cat "$SMALL"/events-*.jsonl | jq -r '.event.type' | sort | uniq -c | awk '{print $1, $2}' | sort)
echo "agree"

hyperfine --runs 3 --export-markdown "$WORK/stats-$SIZE.md" \
  -n "journal stats --json" "$BIN stats --json $J > /dev/null" \
  -n "rg -o | sort | uniq -c" "rg -o --no-filename '\"type\":\"[^\"]*\"' $J | sort | uniq -c > /dev/null" \
  -n "jq -r .event.type | sort | uniq -c" "cat $J/events-*.jsonl | jq -r .event.type | sort | uniq -c > /dev/null"
cat "$WORK/stats-$SIZE.md"
