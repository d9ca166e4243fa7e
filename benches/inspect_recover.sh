#!/usr/bin/env bash
# `journal inspect -n 20` and `journal recover`: the same cost on 64 MiB and
# 512 MiB (newest-first is native), against `tac | head` and `tail | jq`.
# Prints a Markdown table for BENCHMARKS.md. Run by hand: bash benches/inspect_recover.sh
source "$(dirname "$0")/common.sh"
build
small=$(journal_of 64M)
big=$(journal_of 512M)
newest() { ls "$1"/events-*.jsonl | sort | tail -n 1; }
segs_newest_first() { ls "$1"/events-*.jsonl | sort -r | tr '\n' ' '; }

i64=$(mean_ms x "$JOURNAL inspect -n 20 -o raw $small")
i512=$(mean_ms x "$JOURNAL inspect -n 20 -o raw $big")
it512=$(mean_ms x "$JOURNAL inspect -n 20 -o table $big")
r64=$(mean_ms x "$JOURNAL recover $small")
r512=$(mean_ms x "$JOURNAL recover $big")
tac512=$(mean_ms x "bash -c 'tac $(segs_newest_first "$big") | head -20'")
jq512=$(mean_ms x "bash -c 'tail -n 1 $(newest "$big") | jq .seq'")
# A session that is active at the start of the journal, and a literal that
# occurs once (an id from the middle): queries that must read far back.
first_session=$(head -n 1 "$(ls "$big"/events-*.jsonl | sort | head -n 1)" | jq -r .session_id)
mid_segment=$(ls "$big"/events-*.jsonl | sort | sed -n 32p)
rare=$(sed -n 1000p "$mid_segment" | jq -r '.event | (.message_id // .run_id // .session_id // .type)')
grep512=$(mean_ms x "$JOURNAL inspect -n 20 -t error $big")
sess512=$(mean_ms x "$JOURNAL inspect -n 20 --session $first_session $big")
rare512=$(mean_ms x "$JOURNAL inspect -n 1 -g $rare $big")
rareall=$(mean_ms x "$JOURNAL inspect --all -g $rare $big")
rg512=$(mean_ms x "rg -F -c $rare $big")
m_inspect=$(peak_mib "$JOURNAL" inspect -n 20 "$big")
m_recover=$(peak_mib "$JOURNAL" recover "$big")
m_all=$(peak_mib "$JOURNAL" inspect --all -o raw "$big")
m_tac=$(peak_mib bash -c "tac $(segs_newest_first "$big") | head -20")

cat <<MD
| what | 64 MiB | 512 MiB | ratio 512/64 |
|---|---|---|---|
| \`journal inspect -n 20 -o raw\` | $i64 ms | $i512 ms | $(ratio "$i512" "$i64") |
| \`journal recover\` | $r64 ms | $r512 ms | $(ratio "$r512" "$r64") |

| on the 512 MiB journal | mean | ratio to journal |
|---|---|---|
| \`journal inspect -n 20 -o raw\` | $i512 ms | 1.00 |
| \`journal inspect -n 20 -o table\` | $it512 ms | $(ratio "$it512" "$i512") |
| \`tac <segments newest first> \| head -20\` | $tac512 ms | $(ratio "$tac512" "$i512") |
| \`journal inspect -n 20 -t error\` | $grep512 ms | $(ratio "$grep512" "$i512") |
| \`journal inspect -n 20 --session <busy session>\` | $sess512 ms | $(ratio "$sess512" "$i512") |

| recovering the max seq, 512 MiB | mean | ratio to journal |
|---|---|---|
| \`journal recover\` | $r512 ms | 1.00 |
| \`tail -n 1 NEWEST \| jq .seq\` | $jq512 ms | $(ratio "$jq512" "$r512") |

| finding a literal that occurs once, 512 MiB | mean | ratio to ripgrep |
|---|---|---|
| \`rg -F -c LITERAL DIR\` | $rg512 ms | 1.00 |
| \`journal inspect -n 1 -g LITERAL\` (stops at the match) | $rare512 ms | $(ratio "$rare512" "$rg512") |
| \`journal inspect --all -g LITERAL\` (reads everything) | $rareall ms | $(ratio "$rareall" "$rg512") |

| peak memory (RSS) on 512 MiB | MiB |
|---|---|
| \`journal inspect -n 20\` | $m_inspect |
| \`journal recover\` | $m_recover |
| \`journal inspect --all -o raw\` (a full scan) | $m_all |
| \`tac \| head -20\` (baseline) | $m_tac |
MD
