#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""ctl_faults.py - a hostile controller for a probing node (issue 12): an
HTTP proxy on 127.0.0.1 in front of a real `mailpulse run`, which answers
the node's batches of results (POST .../results) by a plan, in order, and
passes everything else (assignments, heartbeats) through untouched.

  ctl_faults.py --port P --upstream PORT --plan STEP,STEP,... --log FILE

Each STEP answers one batch; after the plan, batches pass through.
  413      "too large", without passing it on
  503      "unavailable", without passing it on
  garbage  200 with a body that is not JSON, without passing it on
  lost     passed on (the controller stores it), the reply replaced by
           garbage: the node must send it again, the controller must know
  400      "malformed", without passing it on: the node drops the batch
  pass     passed on
The log gets one line per batch: its number, the step and the batch's
result count.
"""
import argparse
import http.client
import http.server
import json
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    plan = [s for s in a.plan.split(",") if s]
    lock = threading.Lock()
    state = {"n": 0}
    log = open(a.log, "a", buffering=1)

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, body, ctype="application/json"):
            b = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def forward(self, body):
            c = http.client.HTTPConnection("127.0.0.1", a.upstream, timeout=10)
            hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            c.request(self.command, self.path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            hs = [(k, v) for k, v in r.getheaders() if k.lower() not in ("transfer-encoding", "connection", "content-length")]
            c.close()
            return r.status, hs, data

        def passthrough(self, body):
            status, hs, data = self.forward(body)
            self.send_response(status)
            for k, v in hs:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            if self.command != "POST" or not self.path.endswith("/results"):
                return self.passthrough(body)
            with lock:
                i = state["n"]
                state["n"] += 1
            step = plan[i] if i < len(plan) else "pass"
            try:
                count = len(json.loads(body)["results"])
            except Exception:
                count = -1
            log.write("batch %d %s %d\n" % (i + 1, step, count))
            if step == "413":
                return self.reply(413, '{"error":"too_large","detail":"batch: too large (test)"}')
            if step == "503":
                return self.reply(503, '{"error":"unavailable","detail":"test"}')
            if step == "garbage":
                return self.reply(200, "<html>not json", "text/html")
            if step == "400":
                return self.reply(400, '{"error":"bad_request","detail":"batch: refused (test)"}')
            if step == "lost":
                self.forward(body)
                return self.reply(200, "\x00\x01 half a reply")
            return self.passthrough(body)

        do_GET = handle_any
        do_POST = handle_any

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), H)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
