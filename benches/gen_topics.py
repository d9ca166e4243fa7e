#!/usr/bin/env python3
"""Generates a per-topic event log (harn-vm's JSONL backend) of about SIZE
bytes with a valid provenance chain, as the runtime writes it: one line
{"id","event":{"kind","payload","headers","occurred_at_ms"}} per event, keys
sorted (serde_json maps), record_hash = sha256 of the canonical JSON of
{topic, event_id, kind, payload, headers minus record_hash, occurred_at_ms}.

usage: gen_topics.py DIR SIZE_MIB [SEED]
"""
import hashlib
import json
import os
import random
import sys

out, size_mib = sys.argv[1], int(sys.argv[2])
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
TOPICS = ["agent.transcript.llm", "triggers.inbox", "agent.tools", "portal.audit"]
WORDS = ["the", "build", "failed", "résumé", "日本語", "テキスト", "emoji 🚀", "retry", "tool", "call",
         "provider", "overloaded", "\"quoted\"", "line\nbreak", "path/to/ファイル.rs", "ok"]


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload(kind):
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 120)))
    if kind == "provider_call":
        return {"provider": rng.choice(["openai", "anthropic"]), "attempt": rng.randint(1, 4),
                "usage": {"input": rng.randint(10, 9000), "output": rng.randint(1, 2000)},
                "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": text[::-1]}]}
    if kind == "trigger.webhook":
        return {"ref": "refs/heads/main", "body": {"commits": [{"message": text}]}}
    return {"op": rng.choice(["modify", "create", "delete"]), "path": "src/%d.rs" % rng.randint(0, 999), "note": text}


os.makedirs(os.path.join(out, "topics"), exist_ok=True)
os.makedirs(os.path.join(out, "consumers"), exist_ok=True)
os.makedirs(os.path.join(out, "locks"), exist_ok=True)
files = {t: open(os.path.join(out, "topics", t + ".jsonl"), "w", encoding="utf-8") for t in TOPICS}
state = {t: (0, None) for t in TOPICS}
written, ms, target = 0, 1795683600000, size_mib * 1024 * 1024
while written < target:
    topic = rng.choice(TOPICS)
    last_id, prev = state[topic]
    eid = last_id + 1
    kind = rng.choice(["provider_call", "trigger.webhook", "trigger.file_changed"])
    ms += rng.randint(1, 5000)
    headers = {"harn.provenance.schema": "harn-eventlog-provenance-v1",
               "trace_id": "%032x" % rng.getrandbits(128)}
    if rng.random() < 0.5:
        headers["session_id"] = "sess-%d" % rng.randint(0, 20)
    if prev:
        headers["harn.provenance.prev_hash"] = prev
    pl = payload(kind)
    c = canonical({"topic": topic, "event_id": eid, "kind": kind, "payload": pl,
                   "headers": headers, "occurred_at_ms": ms})
    h = "sha256:" + hashlib.sha256(c.encode()).hexdigest()
    headers["harn.provenance.record_hash"] = h
    line = '{"id":%d,"event":{"kind":%s,"payload":%s,"headers":%s,"occurred_at_ms":%d}}\n' % (
        eid, canonical(kind), canonical(pl), canonical(headers), ms)
    files[topic].write(line)
    written += len(line.encode())
    state[topic] = (eid, h)
for t, f in files.items():
    f.close()
    open(os.path.join(out, "locks", t + ".lock"), "w").close()
    with open(os.path.join(out, "consumers", t + "__bench.json"), "w") as c:
        json.dump({"consumer_id": "bench", "cursor": max(0, state[t][0] - 7), "topic": t,
                   "updated_at_ms": ms}, c, indent=2)
