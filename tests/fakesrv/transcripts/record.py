#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""record.py - talk to a real POP3/IMAP server with a scripted plain client
and write down every byte exchanged, for tests/fakesrv/transcripts/.

    record.py HOST PORT OUT.txt --title TEXT [--note TEXT ...] [--implicit-tls] STEP...

Steps, run in order:
    send:TEXT     send TEXT followed by CRLF (one send() call)
    line          read one line (up to LF)
    pop3          read one POP3 status line; if it is "+OK" and the step is
                  pop3multi, also read the lines up to the "." line
    pop3multi
    imap:TAG      read lines up to and including the one starting "TAG "
    tls           TLS handshake (client side, certificate not verified: the
                  server's own test certificate is not what is recorded)
    eof           read until the server closes (5 s at most)
    sleep:MS      pause

The transcript: a header (date, title, notes, the command), then one line per
line exchanged: "C: " what the client sent, "S: " what the server sent, with
CR, LF, backslash and every byte outside 0x20..0x7e escaped (\\r \\n \\\\ \\xNN),
so the line endings the server really used are visible. "--" lines are
events (TLS up, connection closed), not bytes.
"""
import datetime
import shlex
import socket
import ssl
import sys
import time


def esc(b):
    out = []
    for c in b:
        if c == 0x0D:
            out.append("\\r")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c <= 0x7E:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


class Conn:
    def __init__(self, sock, log):
        self.s = sock
        self.buf = b""
        self.log = log
        self.closed = False
        self.close_logged = False
        self.last = time.monotonic()

    def server(self, text):
        # A pause worth knowing about (a server that waits before it
        # answers) is written down as an event before the line.
        now = time.monotonic()
        if now - self.last > 0.5:
            self.log.append("-- %d ms pass" % ((now - self.last) * 1000))
        self.last = now
        self.log.append("S: " + text)

    def client(self, data):
        self.log.append("C: " + esc(data))
        try:
            self.s.sendall(data)
        except OSError as e:
            self.log.append("-- send failed: %s" % e)
            self.closed = True
        self.last = time.monotonic()

    def gone(self):
        if not self.close_logged:
            self.log.append("-- server closed the connection")
            self.close_logged = True

    def fill(self, timeout):
        self.s.settimeout(timeout)
        try:
            d = self.s.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            self.log.append("-- connection reset by the server (RST)")
            self.closed = self.close_logged = True
            return b""
        if not d:
            self.closed = True
        self.buf += d
        return d

    def line(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.closed:
                break
            left = deadline - time.monotonic()
            if left <= 0 or self.fill(left) is None:
                self.log.append("-- no complete line within %.0f s" % timeout)
                return None
        if b"\n" in self.buf:
            i = self.buf.index(b"\n") + 1
            ln, self.buf = self.buf[:i], self.buf[i:]
            self.server(esc(ln))
            return ln
        if self.buf:
            self.server(esc(self.buf) + "   (partial line, then close)")
            self.buf = b""
        self.gone()
        return None


def main():
    a = sys.argv[1:]
    host, port, out = a[0], int(a[1]), a[2]
    title, notes, implicit, steps = "", [], False, []
    i = 3
    while i < len(a):
        if a[i] == "--title":
            title = a[i + 1]
            i += 2
        elif a[i] == "--note":
            notes.append(a[i + 1])
            i += 2
        elif a[i] == "--implicit-tls":
            implicit = True
            i += 1
        else:
            steps.append(a[i])
            i += 1

    log = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((host, port), timeout=10)
    log.append("-- connected to %s:%d" % (host, port))
    if implicit:
        raw = ctx.wrap_socket(raw, server_hostname="localhost")
        log.append("-- TLS up (implicit): %s %s" % (raw.version(), raw.cipher()[0]))
    c = Conn(raw, log)
    for st in steps:
        if c.closed and st not in ("eof",):
            log.append("-- (step %s skipped: connection closed)" % st)
            continue
        if st.startswith("send:"):
            c.client(st[5:].encode() + b"\r\n")
        elif st == "line":
            c.line()
        elif st in ("pop3", "pop3multi"):
            ln = c.line()
            if st == "pop3multi" and ln is not None and ln.startswith(b"+OK"):
                while True:
                    ln = c.line()
                    if ln is None or ln.rstrip(b"\r\n") == b".":
                        break
        elif st.startswith("imap:"):
            tag = st[5:].encode() + b" "
            while True:
                ln = c.line()
                if ln is None or ln.startswith(tag):
                    break
        elif st == "tls":
            if c.buf:
                log.append("-- WARNING: %d bytes pipelined before TLS: %s" % (len(c.buf), esc(c.buf)))
            try:
                c.s = ctx.wrap_socket(c.s, server_hostname="localhost")
            except (ssl.SSLError, OSError) as e:
                log.append("-- TLS handshake failed: %s" % e)
                c.closed = True
                continue
            log.append("-- TLS up: %s %s" % (c.s.version(), c.s.cipher()[0]))
        elif st == "eof":
            deadline = time.monotonic() + 5
            while not c.closed and time.monotonic() < deadline:
                if b"\n" in c.buf:
                    c.line()
                    continue
                c.fill(max(0.01, deadline - time.monotonic()))
            while b"\n" in c.buf:
                c.line()
            if c.buf:
                c.server(esc(c.buf) + "   (partial line)")
            if c.closed:
                c.gone()
            else:
                log.append("-- still open after 5 s")
        elif st.startswith("sleep:"):
            time.sleep(int(st[6:]) / 1000)
        else:
            sys.exit("unknown step " + st)
    try:
        c.s.close()
    except OSError:
        pass

    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    with open(out, "w") as f:
        f.write("# %s\n" % title)
        f.write("# recorded: %s\n" % now)
        for n in notes:
            f.write("# %s\n" % n)
        f.write("# command: tests/fakesrv/transcripts/record.py %s\n" % " ".join(shlex.quote(x) for x in a))
        f.write("# C: client bytes, S: server bytes, one line each, escaped (\\r \\n \\\\ \\xNN); -- events\n")
        f.write("\n")
        for ln in log:
            f.write(ln + "\n")
    print(open(out).read())


if __name__ == "__main__":
    main()
