#!/usr/bin/env python3
"""Generate a benchmark journal: events-<seq>.jsonl segments of 8 MiB, lines
in the engine's shape and field order, with a corpus-like mix of event types
(every type's required fields per engine_events.json) and message text with
Unicode, emoji, escaped quotes and CRLF escapes. Deterministic for a seed.

    python3 benches/gen_journal.py --size 512M --seed 1 OUT_DIR

(A Rust generator built on the library's writer lives on another branch as
examples/gen_journal.rs; this one keeps the verify benchmark self-contained.)
"""
import argparse
import datetime
import json
import os
import random

ROTATE = 8 * 1024 * 1024
WORDS = ["deploy", "caf\u00e9", "na\u00efve", "\u65e5\u672c\u8a9e", "\u0645\u0631\u062d\u0628\u0627",
         "\U0001F680", "\U0001F389", "quote \"x\"", "tab\there", "line\r\nbreak", "path C:\\tmp",
         "ok", "the", "build", "failed", "retry", "agent", "tool", "result", "\u00fcber"]


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * mult[s[-1].upper()] if s[-1].upper() in mult else int(s)


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def event(rng, seq, ts, session):
    r = rng.random()
    if r < 0.70:
        return {"type": "message_appended", "session_id": session, "message_id": f"m-{seq}",
                "role": rng.choice(["user", "assistant"]), "content": text(rng, rng.randint(5, 90)),
                "created_at": ts}
    if r < 0.80:
        return {"type": "execution_started", "run_id": f"run-{seq}", "session_id": session, "started_at": ts}
    if r < 0.88:
        return {"type": "complete", "usage": {"prompt_tokens": rng.randint(1, 9000),
                                              "completion_tokens": rng.randint(1, 2000)}}
    if r < 0.92:
        return {"type": "error", "message": text(rng, rng.randint(3, 20))}
    if r < 0.96:
        return {"type": "task_list_updated", "task_list": {"items": [
            {"id": f"t{i}", "title": text(rng, 4), "done": rng.random() < 0.5} for i in range(rng.randint(1, 6))]},
            "version": seq}
    return {"type": "config.changed", "revision": seq, "section": rng.choice(["models", "tools", "ui"])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="512M")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("out")
    a = ap.parse_args()
    target = parse_size(a.size)
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    t0 = datetime.datetime(2026, 11, 20, 9, 0, 0, tzinfo=datetime.timezone.utc)
    seq, total, seg_bytes, f = 0, 0, 0, None
    sessions = [f"sess-{i}" for i in range(12)]
    while total < target:
        seq += 1
        if f is None or seg_bytes >= ROTATE:
            if f:
                f.close()
            f = open(os.path.join(a.out, f"events-{seq:020}.jsonl"), "wb", buffering=1 << 20)
            seg_bytes = 0
        ts = (t0 + datetime.timedelta(milliseconds=seq * 137)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        session = rng.choice(sessions)
        rec = {"seq": seq, "ts": ts, "session_id": session, "event": event(rng, seq, ts, session)}
        line = (json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        f.write(line)
        seg_bytes += len(line)
        total += len(line)
    f.close()
    open(os.path.join(a.out, ".account-journal.lock"), "wb").close()
    print(f"{a.out}: {seq} events, {total} bytes")


if __name__ == "__main__":
    main()
