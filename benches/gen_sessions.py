#!/usr/bin/env python3
"""Generates a per-session store (aios-events shape) of about SIZE bytes:
a few large sessions (half the bytes) and many small ones, two branches
each, records shaped like the corpus's (realistic sizes, 300-2000 bytes).

    benches/gen_sessions.py SIZE_MIB DIR
"""
import json, os, random, sys, uuid

size = int(sys.argv[1]) * 1024 * 1024
root = sys.argv[2]
events = os.path.join(root, "events")
os.makedirs(events, exist_ok=True)
rng = random.Random(1)
kinds = ["UserMessage", "Message", "ToolCallRequested", "ToolCallCompleted",
         "ToolCallFailed", "StepStarted", "RunStarted", "RunFinished", "ErrorRaised"]
words = "the agent read the segment list then walked each file backwards and found the torn tail".split()

def session(name, target, t0):
    seq = {"main": 0, "exp-1": 0}
    written = 0
    t = t0
    agent = str(uuid.UUID(int=rng.getrandbits(128)))
    with open(os.path.join(events, name + ".jsonl"), "w") as f:
        while written < target:
            branch = "main" if seq["main"] < 30 or rng.random() < 0.7 else "exp-1"
            seq[branch] += 1
            t += rng.randint(1, 3000) * 1_000_000
            kind = "SessionCreated" if seq[branch] == 1 and branch == "main" else rng.choice(kinds)
            rec = {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "session_id": name, "agent_id": agent, "branch_id": branch,
                "sequence": seq[branch],
                "timestamp": "2026-11-%02dT%02d:%02d:%02d.%09dZ" % (
                    1 + t // 86_400_000_000_000 % 28, t // 3_600_000_000_000 % 24,
                    t // 60_000_000_000 % 60, t // 1_000_000_000 % 60, t % 1_000_000_000),
                "actor": {"type": "system", "component": "arcan-daemon"},
                "schema": {"name": "aios-protocol", "version": "0.1.0"},
                "kind": {"type": kind, "content": " ".join(rng.choice(words) for _ in range(rng.randint(30, 300)))},
            }
            line = json.dumps(rec, separators=(",", ":")) + "\n"
            f.write(line)
            written += len(line)
    return written

big = 4
small = 200
t0 = 0
for i in range(big):
    session("sess-big-%02d" % i, size // 2 // big, t0 + i * 1_000_000)
for i in range(small):
    session("sess-small-%03d" % i, size // 2 // small, t0 + i * 7_000_000)
