#!/usr/bin/env bash
# The per-topic log's chain check against sha256sum of the same bytes, in
# one hyperfine run: verify reads every topic file, parses each event,
# re-serialises it canonically and hashes it; it cannot be much faster than
# hashing the files and should not be much slower.
#
#   bash benches/topics_chain.sh [SIZE_MIB]     (default 256)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SIZE_MIB=${1:-256}
cd "$ROOT"
cargo build --release --quiet
T="$DATA/topics-$SIZE_MIB"
if [ ! -f "$T/.done" ]; then
  rm -rf "$T"
  python3 benches/gen_topics.py "$T" "$SIZE_MIB" 1
  touch "$T/.done"
fi
V="$JOURNAL verify --quiet"
$JOURNAL verify --json "$T" | jq -c '{records, errors, warnings}'
du -cb "$T"/topics/*.jsonl | tail -1
hyperfine --warmup 1 --runs "${RUNS:-10}" -N \
  --export-json "$DATA/topics-chain.json" \
  "$V $T" \
  "sha256sum $(echo "$T"/topics/*.jsonl)"
printf 'journal verify peak RSS: '
/usr/bin/time -f '%M KiB' $V "$T" 2>&1 >/dev/null | tail -1
printf 'sha256sum peak RSS: '
/usr/bin/time -f '%M KiB' sha256sum "$T"/topics/*.jsonl 2>&1 >/dev/null | tail -1
