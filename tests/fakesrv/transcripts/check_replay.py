#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""check_replay.py SCENARIO...: every byte a replay scenario sends must be
in the transcripts it names.

A scenario names its transcripts with "tests/fakesrv/transcripts/FILE.txt"
or a bare "FILE.txt" in its comments. Each `send "..."` must be a run of
whole server lines of one of them, and each `reply "TEXT"` must be the text
after the tag of a tagged server line. `sleep` is not checked. Exit 1 with
what does not match.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        if n == "x":
            out.append(int(s[i + 2:i + 4], 16))
            i += 4
            continue
        out += {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"'}[n]
        i += 2
    return bytes(out)


def server_lines(path):
    lines = []
    for ln in open(path, encoding="ascii"):
        if ln.startswith("S: "):
            lines.append(unescape(ln[3:].rstrip("\n").split("   (partial")[0]))
    return lines


def main():
    bad = 0
    for scn in sys.argv[1:]:
        text = open(scn, encoding="ascii").read()
        names = sorted(set(re.findall(r"([\w.+-]+-[\w.+-]+\.txt)", text)))
        if not names:
            print("%s: names no transcript" % scn)
            bad += 1
            continue
        lines = []
        for n in names:
            p = os.path.join(HERE, n)
            if not os.path.exists(p):
                print("%s: no such transcript %s" % (scn, n))
                bad += 1
                continue
            lines.append(server_lines(p))
        for no, ln in enumerate(text.splitlines(), 1):
            m = re.match(r'\s*(send|reply)\s+"(.*)"\s*$', ln)
            if not m:
                continue
            data = unescape(m.group(2))
            ok = False
            for ls in lines:
                if m.group(1) == "send":
                    for i in range(len(ls)):
                        j, acc = i, b""
                        while j < len(ls) and len(acc) < len(data):
                            acc += ls[j]
                            j += 1
                        if acc == data:
                            ok = True
                            break
                else:
                    want = data if data.endswith(b"\n") else data + b"\r\n"
                    ok = any(b" " in l and l.split(b" ", 1)[1] == want and not l.startswith(b"* ")
                             for l in ls)
                if ok:
                    break
            if not ok:
                print("%s:%d: %s not in %s" % (scn, no, m.group(1), ", ".join(names)))
                bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
