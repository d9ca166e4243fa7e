#!/usr/bin/env bash
# The per-session store: `journal recover` and `journal inspect -n 20` on a
# generated store of 64 MiB and of 512 MiB (benches/gen_sessions.py: 4 large
# sessions, 200 small ones, two branches each), in one run, and the peak
# memory at 512 MiB. Prints a Markdown table for BENCHMARKS.md.
# Run by hand: bash benches/sessions.sh
source "$(dirname "$0")/common.sh"
(cd "$ROOT" && cargo build --release --quiet)
store_of() {
  local dir="$DATA/sessions-$1"
  if [ ! -f "$dir/.done" ]; then
    rm -rf "$dir"
    python3 "$ROOT/benches/gen_sessions.py" "$1" "$dir" >&2
    touch "$dir/.done"
  fi
  echo "$dir"
}
small=$(store_of 64)
big=$(store_of 512)
r64=$(mean_ms x "$JOURNAL recover $small")
r512=$(mean_ms x "$JOURNAL recover $big")
i64=$(mean_ms x "$JOURNAL inspect -n 20 -o raw $small")
i512=$(mean_ms x "$JOURNAL inspect -n 20 -o raw $big")
m_recover=$(peak_mib "$JOURNAL" recover "$big")
m_inspect=$(peak_mib "$JOURNAL" inspect -n 20 -o raw "$big")

cat <<MD
| command | 64 MiB | 512 MiB | ratio 512/64 | peak RSS at 512 MiB |
|---|---:|---:|---:|---:|
| \`journal recover\` | $r64 ms | $r512 ms | $(ratio "$r512" "$r64") | $m_recover MiB |
| \`journal inspect -n 20 -o raw\` | $i64 ms | $i512 ms | $(ratio "$i512" "$i64") | $m_inspect MiB |
MD
