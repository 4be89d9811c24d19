#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""netproxy.py - a TCP proxy of the tests' own that misbehaves on demand.

    netproxy.py --listen ADDR:PORT --connect ADDR:PORT [--control FILE]
                [--state FILE] [--port-file FILE]

Forwards every accepted connection to --connect. What it does is set by one
line of KEY=VALUE words in the control file, read at start and again on
SIGHUP (so a test can make a link flap while clients are connected):

    mode=pass        forward (the default)
    mode=refuse      close the listener, so the kernel refuses new connections,
                     and reset the open ones (a server that went away)
    mode=blackhole   accept and never answer nor forward; open connections
                     stall (nothing more flows either way) until the mode changes
    delay_up=MS      hold each chunk from the client MS ms before sending it on
    delay_down=MS    the same for the server's bytes (400: a slow greeting)
    drop_down=N      close the client's connection once N bytes of the server's
                     have been forwarded (N=10: mid-greeting); 0 = never
    drop_up=N        the same for the client's bytes
    drop_how=fin|rst how to close for drop_*: an orderly FIN (the default) or
                     a reset (SO_LINGER 0)

A proxy cannot refuse what it has accepted: when --connect is down, the
client's connection is reset. Unknown keys or values are refused and the previous settings stay. The
settings in force are written to --state after every (re)load as
"gen=N KEY=VALUE...", N counting loads from 1: a test waits for gen to move
before relying on a change. Settings apply to connections at once, delays
to chunks read afterwards.

Bounds: at most MAX_CONNS connections at once (more are closed as they
come), at most CHUNK bytes per read and QUEUE_CAP bytes held per direction
(reading stops until the other side takes them), so a hostile peer that
floods, never reads or opens hundreds of connections costs bounded memory.
Why python: test tooling with per-chunk timers, where asyncio says in a few
lines what C with poll() says in hundreds; it never runs in the product.
"""

import argparse
import asyncio
import os
import signal
import socket
import struct
import sys
import time

MAX_CONNS = 64
CHUNK = 16384
QUEUE_CAP = 262144
DELAY_MAX_MS = 600000
KEYS = {
    "mode": ("pass", "refuse", "blackhole"),
    "drop_how": ("fin", "rst"),
    "delay_up": int,
    "delay_down": int,
    "drop_up": int,
    "drop_down": int,
}
DEFAULTS = {"mode": "pass", "delay_up": 0, "delay_down": 0, "drop_up": 0, "drop_down": 0,
            "drop_how": "fin"}


def log(msg):
    print("netproxy: %s" % msg, file=sys.stderr, flush=True)


def parse_settings(text):
    """Return the settings a control line asks for, or raise ValueError."""
    s = dict(DEFAULTS)
    words = text.split()
    if len(words) > 16:
        raise ValueError("too many words")
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or k not in KEYS:
            raise ValueError("unknown setting %r" % w[:64])
        kind = KEYS[k]
        if kind is int:
            if not v.isdigit() or len(v) > 9:
                raise ValueError("%s wants a number, got %r" % (k, v[:64]))
            n = int(v)
            if k.startswith("delay") and n > DELAY_MAX_MS:
                raise ValueError("%s over %d ms" % (k, DELAY_MAX_MS))
            s[k] = n
        else:
            if v not in kind:
                raise ValueError("%s wants one of %s, got %r" % (k, "|".join(kind), v[:64]))
            s[k] = v
    return s


def hostport(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError("want ADDR:PORT, got %r" % s)
    return host.strip("[]"), int(port)


def set_rst(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


class Conn:
    def __init__(self, proxy, n, cr, cw):
        self.proxy = proxy
        self.n = n
        self.cr, self.cw = cr, cw
        self.sr = self.sw = None
        self.sent = {"up": 0, "down": 0}
        self.done = asyncio.Event()
        self.why = "open"
        self.eofs = set()

    def close(self, why, rst=False):
        if self.done.is_set():
            return
        self.why = why
        for w in (self.cw, self.sw):
            if w is None:
                continue
            if rst:
                set_rst(w)
                w.transport.abort()
            else:
                w.close()
        self.done.set()

    async def run(self, settings):
        p = self.proxy
        if settings["mode"] == "blackhole":
            # Read and forget, bounded by CHUNK per read, until the peer goes.
            try:
                while await self.cr.read(CHUNK):
                    pass
            except OSError:
                pass
            self.close("blackholed")
            return
        try:
            self.sr, self.sw = await asyncio.wait_for(
                asyncio.open_connection(p.connect[0], p.connect[1]), 10)
        except (OSError, asyncio.TimeoutError) as e:
            log("conn %d: upstream %s:%d: %s" % (self.n, p.connect[0], p.connect[1], e))
            self.close("upstream failed", rst=True)
            return
        tasks = [asyncio.ensure_future(self.pipe("up", self.cr, self.sw)),
                 asyncio.ensure_future(self.pipe("down", self.sr, self.cw))]
        await self.done.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def pipe(self, d, r, w):
        """One direction: a reader that queues, a writer that delays and sends."""
        q = asyncio.Queue()
        room = asyncio.Event()
        room.set()
        held = [0]

        async def reader():
            while True:
                await room.wait()
                try:
                    data = await r.read(CHUNK)
                except OSError:
                    data = b""
                q.put_nowait((time.monotonic(), data))
                if not data:
                    return
                held[0] += len(data)
                if held[0] >= QUEUE_CAP:
                    room.clear()

        async def writer():
            while True:
                t, data = await q.get()
                while self.proxy.settings["mode"] == "blackhole":
                    await self.proxy.changed.wait()
                delay = self.proxy.settings["delay_" + d] / 1000.0
                wait = t + delay - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    # Half-close: the other direction may still be talking.
                    try:
                        if w.can_write_eof():
                            w.write_eof()
                    except OSError:
                        pass
                    self.eofs.add(d)
                    if len(self.eofs) == 2:
                        self.close("both sides closed")
                    return
                held[0] -= len(data)
                if held[0] < QUEUE_CAP:
                    room.set()
                limit = self.proxy.settings["drop_" + d]
                if limit and self.sent[d] + len(data) >= limit:
                    w.write(data[: limit - self.sent[d]])
                    self.sent[d] = limit
                    try:
                        await w.drain()
                    except OSError:
                        pass
                    how = self.proxy.settings["drop_how"]
                    self.close("dropped after %d bytes %s (%s)" % (limit, d, how), rst=how == "rst")
                    return
                w.write(data)
                self.sent[d] += len(data)
                try:
                    await w.drain()
                except OSError:
                    self.close("write %s failed" % d)
                    return

        rt = asyncio.ensure_future(reader())
        try:
            await writer()
        finally:
            rt.cancel()


class Proxy:
    def __init__(self, args):
        self.listen = args.listen
        self.connect = args.connect
        self.control = args.control
        self.state = args.state
        self.port_file = args.port_file
        self.settings = dict(DEFAULTS)
        self.changed = asyncio.Event()
        self.gen = 0
        self.server = None
        self.conns = set()
        self.count = 0

    def load(self):
        text = ""
        if self.control:
            try:
                with open(self.control, "rb") as f:
                    raw = f.read(4096)
                text = raw.decode("ascii")
            except FileNotFoundError:
                text = ""
            except (OSError, UnicodeDecodeError) as e:
                log("control file: %s; settings unchanged" % e)
                return
        try:
            new = parse_settings(text)
        except ValueError as e:
            log("control file: %s; settings unchanged" % e)
            return
        self.settings = new
        self.gen += 1
        old, self.changed = self.changed, asyncio.Event()
        old.set()
        line = "gen=%d %s" % (self.gen, " ".join("%s=%s" % kv for kv in sorted(new.items())))
        log("settings: " + line)
        asyncio.ensure_future(self.apply(line))

    async def apply(self, line):
        if self.settings["mode"] == "refuse":
            if self.server is not None:
                self.server.close()
                await self.server.wait_closed()
                self.server = None
            for c in list(self.conns):
                c.close("refused (mode change)", rst=True)
        elif self.server is None:
            await self.open_listener()
        if self.state:
            tmpf = self.state + ".tmp"
            with open(tmpf, "w") as f:
                f.write(line + "\n")
            os.rename(tmpf, self.state)

    async def open_listener(self):
        self.server = await asyncio.start_server(self.accept, self.listen[0], self.listen[1],
                                                 reuse_address=True, backlog=16)
        port = self.server.sockets[0].getsockname()[1]
        if self.listen[1] == 0:
            self.listen = (self.listen[0], port)
        if self.port_file and not os.path.exists(self.port_file):
            with open(self.port_file + ".tmp", "w") as f:
                f.write("%d\n" % port)
            os.rename(self.port_file + ".tmp", self.port_file)

    async def accept(self, cr, cw):
        self.count += 1
        n = self.count
        peer = cw.get_extra_info("peername")
        if len(self.conns) >= MAX_CONNS:
            log("conn %d from %s: over %d connections, closed" % (n, peer, MAX_CONNS))
            set_rst(cw)
            cw.transport.abort()
            return
        c = Conn(self, n, cr, cw)
        self.conns.add(c)
        mode = self.settings["mode"]
        try:
            await c.run(self.settings)
        finally:
            self.conns.discard(c)
            c.close(c.why if c.why != "open" else "finished")
            log("conn %d from %s: mode %s, %d bytes up, %d down, %s" %
                (n, peer, mode, c.sent["up"], c.sent["down"], c.why))

    async def main(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.load)
        if parse_mode_now(self) != "refuse":
            await self.open_listener()
        self.load()
        await stop.wait()
        if self.server is not None:
            self.server.close()
        for c in list(self.conns):
            c.close("proxy stopped")


def parse_mode_now(p):
    try:
        with open(p.control, "rb") as f:
            return parse_settings(f.read(4096).decode("ascii"))["mode"]
    except (TypeError, OSError, ValueError, UnicodeDecodeError):
        return "pass"


def main():
    ap = argparse.ArgumentParser(description="TCP proxy for the region tests")
    ap.add_argument("--listen", type=hostport, required=True)
    ap.add_argument("--connect", type=hostport, required=True)
    ap.add_argument("--control")
    ap.add_argument("--state")
    ap.add_argument("--port-file")
    args = ap.parse_args()
    try:
        asyncio.run(Proxy(args).main())
    except OSError as e:
        log(str(e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
