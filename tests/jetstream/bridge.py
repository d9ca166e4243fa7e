#!/usr/bin/env python3
"""A minimal bridge from `journal tail -f -o envelope --ack-stdin` to NATS
JetStream, in the Python standard library only (the NATS text protocol over
a socket; no client library).

  bridge.py create HOST:PORT STREAM SUBJECT WINDOW_S   create the stream
  bridge.py run HOST:PORT SUBJECT PIDFILE -- journal tail ...
      publish each envelope with Nats-Msg-Id = its id, wait for the
      server's publish acknowledgement, then write ACK to journal's stdin
  bridge.py dump HOST:PORT STREAM    print every stored message's id, one a line

`run` exits 3 when journal reports a gap (records pruned before they were
read), 0 when journal ends; the test kills it at random moments.
"""

import base64
import json
import os
import socket
import subprocess
import sys


class Nats:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.buf = b""
        self.inbox_n = 0
        line = self.readline()
        if not line.startswith(b"INFO "):
            raise SystemExit(f"bridge: expected INFO from the server, got {line!r}")
        self.send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                  b'"no_responders":true,"name":"journal-bridge"}\r\nPING\r\n')
        self.wait_pong()
        self.inbox = "_INBOX.bridge.%d" % os.getpid()
        self.send(f"SUB {self.inbox}.* 1\r\n".encode())

    def send(self, data):
        self.sock.sendall(data)

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("bridge: the server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def readn(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("bridge: the server closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def wait_pong(self):
        while True:
            line = self.readline()
            if line == b"PONG":
                return
            if line == b"PING":
                self.send(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise SystemExit(f"bridge: server error {line!r}")

    def next_msg(self):
        """The next MSG/HMSG: (subject, headers bytes, payload bytes)."""
        while True:
            line = self.readline()
            if line == b"PING":
                self.send(b"PONG\r\n")
                continue
            if line in (b"PONG", b"+OK"):
                continue
            if line.startswith(b"-ERR"):
                raise SystemExit(f"bridge: server error {line!r}")
            parts = line.split()
            if parts[0] == b"MSG":
                n = int(parts[-1])
                return parts[1].decode(), b"", self.readn(n)
            if parts[0] == b"HMSG":
                hdr, total = int(parts[-2]), int(parts[-1])
                data = self.readn(total)
                return parts[1].decode(), data[:hdr], data[hdr:]
            raise SystemExit(f"bridge: unexpected line from the server {line!r}")

    def request(self, subject, payload, headers=None):
        """Publishes and waits for the one reply on a fresh inbox subject."""
        self.inbox_n += 1
        reply = f"{self.inbox}.{self.inbox_n}"
        if headers:
            hdr = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            hdr = hdr.encode()
            self.send(f"HPUB {subject} {reply} {len(hdr)} {len(hdr) + len(payload)}\r\n".encode()
                      + hdr + payload + b"\r\n")
        else:
            self.send(f"PUB {subject} {reply} {len(payload)}\r\n".encode() + payload + b"\r\n")
        while True:
            subj, hdrs, data = self.next_msg()
            if subj == reply:
                if b"503" in hdrs.split(b"\r\n", 1)[0]:
                    raise SystemExit(f"bridge: no responders on {subject} (is the stream there?)")
                return data
            # A reply to an earlier request that timed out: ignore it.


def create(addr, stream, subject, window_s):
    nats = Nats(addr)
    config = {"name": stream, "subjects": [subject], "storage": "file",
              "duplicate_window": int(float(window_s) * 1e9)}
    reply = json.loads(nats.request(f"$JS.API.STREAM.CREATE.{stream}", json.dumps(config).encode()))
    if "error" in reply:
        raise SystemExit(f"bridge: creating the stream: {reply['error']}")
    print(json.dumps(reply["config"]))


def dump(addr, stream):
    nats = Nats(addr)
    info = json.loads(nats.request(f"$JS.API.STREAM.INFO.{stream}", b""))
    state = info["state"]
    for seq in range(state["first_seq"], state["last_seq"] + 1):
        reply = json.loads(nats.request(f"$JS.API.STREAM.MSG.GET.{stream}",
                                        json.dumps({"seq": seq}).encode()))
        if "error" in reply:
            raise SystemExit(f"bridge: message {seq}: {reply['error']}")
        msg = reply["message"]
        envelope = json.loads(base64.b64decode(msg["data"]))
        hdrs = base64.b64decode(msg.get("hdrs", "")).decode()
        msg_id = [l.split(":", 1)[1].strip() for l in hdrs.split("\r\n") if l.startswith("Nats-Msg-Id:")]
        if msg_id != [envelope["id"]]:
            raise SystemExit(f"bridge: message {seq}: header {msg_id} but envelope id {envelope['id']}")
        print(envelope["id"], envelope["record"]["seq"])


def run(addr, subject, pidfile, cmd):
    nats = Nats(addr)
    journal = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    with open(pidfile + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {journal.pid}\n")
    os.replace(pidfile + ".tmp", pidfile)
    for line in journal.stdout:
        envelope = json.loads(line)
        if envelope["type"] == "gap":
            print(f"bridge: GAP {envelope}", file=sys.stderr, flush=True)
            journal.kill()
            sys.exit(3)
        ack = json.loads(nats.request(subject, line.rstrip(b"\n"), {"Nats-Msg-Id": envelope["id"]}))
        if "error" in ack:
            raise SystemExit(f"bridge: publish of {envelope['id']} refused: {ack['error']}")
        if ack.get("duplicate"):
            print(f"bridge: duplicate {envelope['id']} (dropped by the stream)", file=sys.stderr, flush=True)
        # Stored (or a duplicate the stream dropped): only now may journal move on.
        journal.stdin.write(b"ACK\n")
        journal.stdin.flush()
    sys.exit(journal.wait())


def main():
    args = sys.argv[1:]
    if args[:1] == ["create"]:
        create(*args[1:5])
    elif args[:1] == ["dump"]:
        dump(*args[1:3])
    elif args[:1] == ["run"] and "--" in args:
        i = args.index("--")
        run(args[1], args[2], args[3], args[i + 1:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
