#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""tls_stall.py - hold TLS connections that never finish the handshake.

Each --from ADDR:N opens N connections to 127.0.0.1:PORT from source
address ADDR. Even-numbered ones send nothing at all (no ClientHello);
odd-numbered ones send, half a second later, the first bytes of a
ClientHello record and then nothing more (a handshake stalled midway).
Waits up to --seconds for the server to close them, never answering
anything it sends, and prints a JSON summary on stdout:

  {"opened": ..., "closed": ..., "first_close_s": ..., "last_close_s": ...,
   "silent_closed": ..., "partial_closed": ...}

Times are seconds from the moment the connection was opened. Bounded:
no more sockets than the --from counts add up to.
"""
import argparse
import errno
import json
import select
import socket
import sys
import time

# A TLS record header (handshake, TLS 1.0 record version, length 512) and
# the start of a ClientHello: a server must wait for the rest.
PARTIAL = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--from", dest="sources", action="append", default=[])
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()

    conns = []  # [sock, opened_at, partial, sent, closed_at]
    for spec in a.sources:
        addr, n = spec.rsplit(":", 1)
        for _ in range(int(n)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.bind((addr, 0))
            err = s.connect_ex(("127.0.0.1", a.port))
            if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
                print(f"connect from {addr}: {errno.errorcode.get(err, err)}", file=sys.stderr)
                return 1
            conns.append([s, time.monotonic(), len(conns) % 2 == 1, False, None])

    end = time.monotonic() + a.seconds
    while time.monotonic() < end and any(c[4] is None for c in conns):
        now = time.monotonic()
        for c in conns:
            if c[4] is None and c[2] and not c[3] and now - c[1] >= 0.5:
                try:
                    c[0].send(PARTIAL)
                    c[3] = True
                except BlockingIOError:
                    pass
                except OSError:
                    c[4] = now
        live = [c for c in conns if c[4] is None]
        r, _, _ = select.select([c[0] for c in live], [], [], 0.1)
        now = time.monotonic()
        for c in live:
            if c[0] in r:
                try:
                    if c[0].recv(4096) == b"":
                        c[4] = now
                except BlockingIOError:
                    pass
                except OSError:
                    c[4] = now

    times = [c[4] - c[1] for c in conns if c[4] is not None]
    print(json.dumps({
        "opened": len(conns),
        "closed": len(times),
        "first_close_s": round(min(times), 2) if times else None,
        "last_close_s": round(max(times), 2) if times else None,
        "silent_closed": sum(1 for c in conns if c[4] is not None and not c[2]),
        "partial_closed": sum(1 for c in conns if c[4] is not None and c[2]),
    }))
    for c in conns:
        c[0].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
