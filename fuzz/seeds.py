#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""seeds.py - fuzz seeds for the IMAP and POP3 cores, made from the fake
server's scenarios (tests/fakesrv/scenarios/*.scn), so the fuzzers start
from every hostile server the suite knows, and from new ones as they are
added.

Each seed is what one scenario's server sends, in the input format of
fuzz_imap.c and fuzz_pop3.c: two option bytes spelled '@'..'_' (starttls
mode, login, plaintext auth, posture, implicit TLS, --expect,
--expect-capability, taken from the scenario's url and args), a LF, then
the server's bytes in order: send, reply (with the tag of the client's
command, A1, A2, ... as the IMAP core numbers them), trickle, pieces, flood
and garbage, the bytes after "tls" following on as the harness plays a
handshake at once. Timing and connection directives send nothing.

Floods and garbage are cut to CUT bytes: libFuzzer takes the largest seed as
its input size limit, and a 1 MiB input would slow every run (the unit tests
cover the caps that large floods hit).

    seeds.py OUTDIR SCENARIO...    writes OUTDIR/imap/NAME and OUTDIR/pop3/NAME
    seeds.py --self-test           checks the conversion of a scenario that uses
                                   every directive

Exits 1, naming the file and line, on a directive or string it cannot read,
and when a protocol gets no seed at all.
"""
import os
import re
import shlex
import sys

CUT = 4096


class ScnError(Exception):
    pass


def unquote(s, where):
    """The bytes of a C-escaped double-quoted string (fakesrv's syntax)."""
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise ScnError("%s: expected a quoted string, got %r" % (where, s))
    out = bytearray()
    i, body = 0, s[1:-1]
    simple = {"r": 13, "n": 10, "t": 9, "0": 0, "\\": 92, '"': 34}
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        if i + 1 >= len(body):
            raise ScnError("%s: a backslash ends the string" % where)
        e = body[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == "x" and re.match(r"[0-9a-fA-F]{2}", body[i + 2:i + 4]):
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        else:
            raise ScnError("%s: unknown escape \\%s" % (where, e))
    return bytes(out)


def garbage(n):
    """Pseudo-random bytes, fixed seed, never NUL, CR or LF (as fakesrv's)."""
    x, out = 2463534242, bytearray()
    while len(out) < n:
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        b = x & 0xFF
        if b not in (0, 10, 13):
            out.append(b)
    return bytes(out)


def options(headers, where):
    """The two option bytes of fuzz_imap.c from the scenario's url and args."""
    url = headers.get("url", "")
    try:
        args = shlex.split(headers.get("args", ""))
    except ValueError as e:
        raise ScnError("%s: args: %s" % (where, e))
    o0, o1 = 1, 0  # starttls auto
    for i, a in enumerate(args):
        nxt = args[i + 1] if i + 1 < len(args) else ""
        if a == "--starttls":
            o0 = (o0 & ~3) | {"no": 0, "auto": 1, "require": 2}.get(nxt, 1)
        elif a == "--login":
            o0 |= 4
        elif a == "--allow-plaintext-auth":
            o0 |= 8
        elif a == "--posture" and nxt == "warn":
            o0 |= 16
        elif a == "--expect":
            o1 |= 2
        elif a == "--expect-capability":
            o1 |= 4
    if url.startswith(("imaps://", "pop3s://")):
        o1 |= 1
    return bytes([0x40 | o0, 0x40 | o1])


def seed(path):
    """(protocol, seed bytes) for one scenario file."""
    headers, out, tagno, last = {}, bytearray(), 0, b""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, raw in enumerate(lines, 1):
        m = re.match(r"#\s*([a-z-]+):\s*(.*)$", raw)
        if m and m.group(1) not in headers:
            headers[m.group(1)] = m.group(2).strip()
    proto = "pop3" if headers.get("url", "").startswith("pop3") else "imap"
    for no, raw in enumerate(lines, 1):
        where = "%s:%d" % (path, no)
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "send":
            out += unquote(rest, where)
        elif word == "reply":
            text = unquote(rest, where)
            out += last + b" " + text + (b"" if text.endswith(b"\n") else b"\r\n")
        elif word in ("expect", "maybe_expect", "readline"):
            # The client's next command: its tag is what a reply echoes.
            tagno += 1
            if proto == "imap":
                last = b"A%d" % tagno
            else:
                arg = unquote(rest, where) if rest else b"X"
                last = (arg.split() or [b"X"])[0].upper()
        elif word == "trickle":
            out += unquote(rest.partition(" ")[2].strip(), where)
        elif word == "pieces":
            out += unquote(rest.split(" ", 2)[2].strip(), where)
        elif word == "flood":
            n, _, pat = rest.partition(" ")
            pat = unquote(pat.strip(), where)
            if not pat:
                raise ScnError("%s: flood of an empty pattern" % where)
            k = min(int(n), CUT)
            out += (pat * (k // len(pat) + 1))[:k]
        elif word == "garbage":
            out += garbage(min(int(rest), CUT))
        elif word in ("sleep", "tls", "tls_stall", "close", "reset", "wait_close",
                      "cert", "chain", "key", "tls_min", "tls_max", "implicit_tls"):
            pass
        else:
            raise ScnError("%s: unknown directive '%s'" % (where, word))
    return proto, options(headers, path) + b"\n" + bytes(out)


SELF_TEST = r"""# url: imaps://127.0.0.1:{port}
# args: --timeout 5 --starttls require --login bob --expect-capability IDLE
implicit_tls
cert good.crt
send "* OK ready\r\n"
expect "CAPABILITY"
pieces 3 10 "* CAPABILITY IMAP4rev1\r\n"
reply "OK done"
sleep 100
expect "LOGIN"
reply "NO [AUTHENTICATIONFAILED] no\n"
flood 5 "ab"
garbage 3
send "\x01\0"
close
"""
SELF_WANT = (b"F" + b"E" + b"\n* OK ready\r\n* CAPABILITY IMAP4rev1\r\nA1 OK done\r\n"
             + b"A2 NO [AUTHENTICATIONFAILED] no\nababa" + garbage(3) + b"\x01\x00")


def self_test():
    """The conversion of one scenario that uses every directive, checked byte for byte."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "all.scn")
        with open(path, "w", encoding="utf-8") as f:
            f.write(SELF_TEST)
        proto, data = seed(path)
        with open(path, "w", encoding="utf-8") as f:
            f.write(SELF_TEST + "bogus 1\n")
        try:
            seed(path)
            bogus = "accepted"
        except ScnError as e:
            bogus = str(e)
    ok = proto == "imap" and data == SELF_WANT and "all.scn:16: unknown directive" in bogus
    if not ok:
        sys.stderr.write("seeds.py: self-test failed: %s %r\n(want %r)\nbogus: %s\n"
                         % (proto, data, SELF_WANT, bogus))
    return 0 if ok else 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) < 3:
        sys.stderr.write("usage: seeds.py OUTDIR SCENARIO...\n")
        return 2
    outdir, count = argv[1], {"imap": 0, "pop3": 0}
    for proto in count:
        os.makedirs(os.path.join(outdir, proto), exist_ok=True)
    for path in argv[2:]:
        try:
            proto, data = seed(path)
        except (ScnError, ValueError, IndexError) as e:
            sys.stderr.write("seeds.py: %s: %s\n" % (path, e))
            return 1
        name = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(outdir, proto, name), "wb") as f:
            f.write(data)
        count[proto] += 1
    for proto, n in count.items():
        if n == 0:
            sys.stderr.write("seeds.py: no %s scenario among the %d given\n"
                             % (proto, len(argv) - 2))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
