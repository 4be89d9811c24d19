#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The README's demo (scripts/demo.sh) when its default ports are taken:
# it picks free ones and says so, the dashboard URL it prints answers, and
# the daemon it runs watches its own Dovecot, every check up. Runs the
# demo with the binaries already built (MAILPULSE, CERTGEN) in a demo
# directory of its own.
. "$(dirname "$0")/lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
command -v python3 >/dev/null || fail "python3 is needed to hold the ports"
unset MP_IMAP_PORT MP_IMAPS_PORT MP_POP3_PORT MP_POP3S_PORT MP_DASHBOARD_PORT
# Dovecot's unprivileged processes must reach the demo directory.
chmod 0755 "$tmp"
export MP_DEMO_DIR=$tmp/demo
stop_demo() {
	"$top/scripts/demo.sh" stop >/dev/null 2>&1
	cleanup
}
trap stop_demo EXIT

# Take the defaults for the test's life: accept and reset every connection
# so that probes of them never fill a backlog and time out. A default
# already taken by another program is just as good.
defaults="10143 10993 10110 10995 8080"
python3 - "$tmp/held" $defaults <<'PY' 2>>"$tmp/holder.log" &
import selectors, socket, struct, sys, time
sel = selectors.DefaultSelector()
for p in sys.argv[2:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAITs
    try:
        s.bind(("127.0.0.1", int(p)))
        s.listen(64)
        sel.register(s, selectors.EVENT_READ)
    except OSError:
        s.close()
open(sys.argv[1], "w").write("ready\n")
end = time.time() + 120
while time.time() < end:
    for key, _ in sel.select(1):
        c, _ = key.fileobj.accept()
        # A reset, not a close: no TIME_WAIT left on the port after the test.
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
PY
pids+=("$!")
wait_for 5 "the default ports held" test -s "$tmp/held"
for p in $defaults; do
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null || fail "default port $p is not taken"
done

# A port the user names is used as given, and never replaced: taken, the
# demo stops and names the variable.
MP_DASHBOARD_PORT=8080 "$top/scripts/demo.sh" >"$tmp/named.out" 2>&1 &&
	fail "the demo ran on a taken MP_DASHBOARD_PORT: $(cat "$tmp/named.out")"
grep -q 'port 8080 (from MP_DASHBOARD_PORT) is in use' "$tmp/named.out" ||
	fail "no message naming MP_DASHBOARD_PORT: $(cat "$tmp/named.out")"
pop3=$(free_port)

# Its output goes where fail() shows it from.
MP_POP3_PORT=$pop3 MAILPULSE_TIME_SCALE=0.05 "$top/scripts/demo.sh" >"$tmp/daemon.log" 2>&1 &
demo_pid=$!
pids+=("$demo_pid")
printed() { grep -q 'dashboard: *http://' "$tmp/daemon.log"; }
printed_or_gone() { printed || ! kill -0 "$demo_pid"; }
wait_for 60 "the demo prints its dashboard" printed_or_gone
printed || fail "the demo stopped before it printed its dashboard"
url=$(sed -n 's|^ *dashboard: *\(http://[^ ]*\).*|\1|p' "$tmp/daemon.log")
case "$url" in
http://127.0.0.1:8080/) fail "the printed dashboard is on the taken port 8080" ;;
http://127.0.0.1:[0-9]*/) ;;
*) fail "printed dashboard URL: '$url'" ;;
esac
for p in 10143 10993 10995 8080; do
	grep -q "^Port $p is in use: .* on 127.0.0.1:[0-9]* instead (set MP_[A-Z0-9]*_PORT to choose)" \
		"$tmp/daemon.log" || fail "the demo does not say that port $p is taken"
done

# The printed URL is the daemon's dashboard, and the daemon watches the
# demo's own Dovecot on the ports it picked: every check comes up.
wait_for 10 "the dashboard answers at $url" curl -sf "${url}healthz"
curl -sf "$url" | grep -q 'data-page="overview"' || fail "GET $url is not the dashboard"
all_up() {
	curl -sf "${url}api/v1/checks" |
		jq -e '(.checks | length) == 7 and all(.checks[]; .state == "up")'
}
wait_for 30 "all seven demo checks up" all_up
imap=$(curl -sf "${url}api/v1/checks/imap-plain" | jq -r .url)
case "$imap" in
imap://127.0.0.1:10143) fail "imap-plain watches the taken port: $imap" ;;
imap://127.0.0.1:[0-9]*) ;;
*) fail "imap-plain url: $imap" ;;
esac
got=$(curl -sf "${url}api/v1/checks/pop3-plain" | jq -r .url)
[ "$got" = "pop3://127.0.0.1:$pop3" ] || fail "pop3-plain watches $got, not MP_POP3_PORT=$pop3"
grep -q "^Port 10110 is in use" "$tmp/daemon.log" && fail "MP_POP3_PORT was given, yet 10110 was replaced"
kill -0 "$demo_pid" 2>/dev/null || fail "the demo's daemon exited"
echo "ok: the demo moved to $url and $imap, kept MP_POP3_PORT=$pop3; all seven checks up"
