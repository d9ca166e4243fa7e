#!/usr/bin/env python3
"""Append-to-print latency of `journal tail -f` against `tail -F`, same file, same run.

A writer appends one engine-shaped event every INTERVAL ms to one segment,
stamping each line with the moment (monotonic ns) just before its write().
Both followers run at once on that journal; a reader thread per follower
timestamps each line as it arrives on the follower's stdout (a pipe). The
latency of a line is arrival minus stamp: it includes the follower's wake-up,
read and write, and the pipe (the same pipe cost for both).

Then nothing is written for IDLE seconds and each follower's CPU time over
that minute is read from /proc/<pid>/stat (utime + stime).

Usage: benches/tail-latency.py [--events 2000] [--interval-ms 3] [--idle 60]
       [--journal target/release/journal]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time

p = argparse.ArgumentParser()
p.add_argument("--events", type=int, default=2000)
p.add_argument("--interval-ms", type=float, default=3.0)
p.add_argument("--idle", type=float, default=60.0)
p.add_argument("--journal", default="target/release/journal")
a = p.parse_args()

tmp = tempfile.mkdtemp(prefix="tail-bench-")
d = os.path.join(tmp, "events")
os.mkdir(d)
open(os.path.join(d, ".account-journal.lock"), "w").close()
seg = os.path.join(d, "events-%020d.jsonl" % 1)
open(seg, "w").close()

def line(seq):
    return json.dumps({"seq": seq, "ts": "2026-11-22T10:15:03.123456789Z", "session_id": "sess-7",
                       "event": {"type": "message_appended", "role": "user",
                                 "content": "bench %d" % seq, "sent_ns": time.monotonic_ns()}},
                      separators=(",", ":")) + "\n"

followers = {
    "journal tail -f": [a.journal, "tail", "-f", "-n", "0", "-o", "raw", d],
    "tail -F": ["tail", "-F", "-n", "0", seg],
}
procs, lat = {}, {}
for name, cmd in followers.items():
    procs[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
    lat[name] = []

def reader(name, proc):
    f = proc.stdout
    buf = b""
    while True:
        chunk = os.read(f.fileno(), 65536)
        now = time.monotonic_ns()
        if not chunk:
            return
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for l in lines:
            try:
                sent = json.loads(l)["event"]["sent_ns"]
            except Exception:
                continue
            lat[name].append((now - sent) / 1e6)

threads = [threading.Thread(target=reader, args=(n, p), daemon=True) for n, p in procs.items()]
for t in threads:
    t.start()
time.sleep(1.0)  # both followers set up

fd = os.open(seg, os.O_WRONLY | os.O_APPEND)
for seq in range(1, a.events + 1):
    os.write(fd, line(seq).encode())  # one write per line, like the engine
    time.sleep(a.interval_ms / 1000)
os.close(fd)
time.sleep(1.0)

def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

before = {n: cpu_s(p.pid) for n, p in procs.items()}
time.sleep(a.idle)
idle = {n: cpu_s(p.pid) - before[n] for n, p in procs.items()}

for p_ in procs.values():
    p_.terminate()
for p_ in procs.values():
    p_.wait()

def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]

print("events: %d, one every %.1f ms; idle window %.0f s" % (a.events, a.interval_ms, a.idle))
print("| follower | lines seen | p50 ms | p99 ms | max ms | CPU over idle window (s) |")
print("|---|---|---|---|---|---|")
for n in followers:
    xs = lat[n]
    if not xs:
        print("| %s | 0 | - | - | - | %.2f |" % (n, idle[n]))
        continue
    print("| %s | %d | %.3f | %.3f | %.3f | %.2f |" % (n, len(xs), pct(xs, 50), pct(xs, 99), max(xs), idle[n]))
j, t = lat["journal tail -f"], lat["tail -F"]
if j and t:
    print("p99 ratio journal/tail -F: %.2f" % (pct(j, 99) / pct(t, 99)))
