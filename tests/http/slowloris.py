#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""slowloris.py - hold many slow HTTP connections against 127.0.0.1:PORT.

Each --from ADDR:N opens N connections from source address ADDR (any
127.0.0.0/8 address works on Linux loopback) and, every --tick seconds,
sends one more byte of a request that never ends. A connection the server
closes is counted and opened again at the next tick, as an attacker would.
Stops after --seconds and prints a JSON summary on stdout:

  {"opened": ..., "closed": ..., "refused_503": ..., "first_close_s": ...,
   "per_source": {"127.0.0.2": {"opened": ..., "closed": ...}}}

Bounded by design: no more sockets than the --from counts add up to, one
byte per socket per tick.
"""
import argparse
import errno
import json
import socket
import sys
import time

PREFIX = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class Conn:
    def __init__(self, src, port):
        self.src = src
        self.sent = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.bind((src, 0))
        err = self.sock.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self.sock.close()
            raise OSError(err, "connect")

    def step(self):
        """Send one byte; return None while open, else what the server sent."""
        try:
            data = self.sock.recv(4096)
            return data  # b"" (closed) or a reply: either way it is over
        except BlockingIOError:
            pass
        except OSError:
            return b""
        byte = PREFIX[self.sent:self.sent + 1] or b"a"
        try:
            if self.sock.send(byte) == 1:
                self.sent += 1
        except BlockingIOError:
            pass  # still connecting, or the server does not read
        except OSError:
            return b""
        return None

    def close(self):
        self.sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--from", dest="sources", action="append", required=True,
                    help="ADDR:N, N connections from source address ADDR")
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--tick", type=float, default=2)
    a = ap.parse_args()

    plan = []
    for s in a.sources:
        addr, n = s.rsplit(":", 1)
        plan.append((addr, int(n)))
    stats = {"opened": 0, "closed": 0, "refused_503": 0, "open_failed": 0,
             "first_close_s": None, "per_source": {}}
    conns = {addr: [] for addr, _ in plan}
    for addr, _ in plan:
        stats["per_source"][addr] = {"opened": 0, "closed": 0}
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.seconds:
        for addr, n in plan:
            live = []
            for c in conns[addr]:
                got = c.step()
                if got is None:
                    live.append(c)
                    continue
                c.close()
                stats["closed"] += 1
                stats["per_source"][addr]["closed"] += 1
                if got.startswith(b"HTTP/1.1 503"):
                    stats["refused_503"] += 1
                if stats["first_close_s"] is None:
                    stats["first_close_s"] = round(time.monotonic() - t0, 2)
            while len(live) < n:
                try:
                    live.append(Conn(addr, a.port))
                except OSError:
                    stats["open_failed"] += 1
                    break
                stats["opened"] += 1
                stats["per_source"][addr]["opened"] += 1
            conns[addr] = live
        time.sleep(a.tick)
    for cs in conns.values():
        for c in cs:
            c.close()
    json.dump(stats, sys.stdout)
    print()


if __name__ == "__main__":
    main()
