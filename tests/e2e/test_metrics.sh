#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_metrics.sh: StatsSocket and LogFormat json through a real Postfix.
#
# The daemon runs with StatsSocket on a free loopback port and LogFormat
# json. A real Prometheus server (Debian's prometheus) scrapes it every
# second while six messages go through Postfix -- SPF pass, fail, softfail
# and none, and one from a trusted client (not judged) -- then:
#  - the page passes `promtool check metrics` before and after, and counts
#    what was sent (messages by action, results by method, the histogram);
#  - Prometheus answers /api/v1/query for authmilter_messages_total with
#    the number of messages (bounded wait for the next scrape);
#  - HTTP edges: 404 for another path, 405 for POST, 400 for garbage, HEAD
#    without a body, and a scrape still answered while more idle clients
#    than the server takes hold connections open;
#  - each decision is one JSON object on the log with the documented keys;
#  - StatsSocket inet:PORT@[::1] serves over IPv6 after a restart.
. "$(dirname "$0")/lib.sh"
e2e_init test_metrics
e2e_need promtool prometheus
STATS_PORT=$(e2e_free_port)
PROM_PORT=$(e2e_free_port)
e2e_conf_set StatsSocket "inet:$STATS_PORT@127.0.0.1"
e2e_conf_set LogFormat json
e2e_conf_set DKIMMode off
e2e_conf_set ARCMode off
e2e_start_all

# http METHOD URL OUT [RAW]: the response (status line, headers, body) to
# OUT; RAW sends RAW as the request instead of METHOD URL. 30 s at most.
http() {
	timeout 30 /usr/bin/python3 - "$@" <<'EOF'
import socket, sys, urllib.parse
method, url, out = sys.argv[1:4]
u = urllib.parse.urlsplit(url)
if len(sys.argv) > 4:
    req = sys.argv[4].encode().decode("unicode_escape").encode("latin-1")
else:
    req = ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, u.path + ("?" + u.query if u.query else ""))).encode()
s = socket.create_connection((u.hostname, u.port), timeout=20)
s.sendall(req)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
open(out, "wb").write(data)
EOF
}

# body FILE: the body of a response saved by http.
body() {
	tr -d '\r' <"$1" | sed '1,/^$/d'
}

# value FILE NAME: the value of sample NAME (with its labels) in FILE's body.
value() {
	body "$1" | awk -v n="$2" '$1 == n { print $2 }'
}

# expect_value CASE FILE NAME WANT
expect_value() {
	local got
	got=$(value "$2" "$3")
	if [ "$got" = "$4" ]; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "$3 is '$got', want $4"
	fi
}

# promtool_ok CASE FILE: a non-empty page that promtool accepts.
promtool_ok() {
	body "$2" >"$E2E_DIR/$1.prom"
	if [ ! -s "$E2E_DIR/$1.prom" ] || ! grep -q '^authmilter_messages_total' "$E2E_DIR/$1.prom"; then
		e2e_fail "$1" "empty page: $(head -c 200 "$2")"
	elif promtool check metrics <"$E2E_DIR/$1.prom" >"$E2E_DIR/$1.promtool" 2>&1; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "promtool: $(head -5 "$E2E_DIR/$1.promtool")"
	fi
}

URL=http://127.0.0.1:$STATS_PORT
# ---- before any message ----
http GET "$URL/metrics" "$E2E_DIR/m0"
if head -1 "$E2E_DIR/m0" | grep -q '^HTTP/1.1 200 ' &&
    grep -q -i '^Content-Type: text/plain; version=0.0.4' "$E2E_DIR/m0"; then
	e2e_ok "GET /metrics: 200, text format 0.0.4"
else
	e2e_fail "GET /metrics" "$(head -3 "$E2E_DIR/m0")"
fi
promtool_ok "promtool, no messages yet" "$E2E_DIR/m0"
expect_value "no messages yet" "$E2E_DIR/m0" 'authmilter_messages_total{action="accept"}' 0

# ---- Prometheus scraping the daemon every second ----
mkdir -p "$E2E_DIR/prom"
cat >"$E2E_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: authmilter
    static_configs:
      - targets: ['127.0.0.1:$STATS_PORT']
EOF
prometheus --config.file="$E2E_DIR/prometheus.yml" \
    --storage.tsdb.path="$E2E_DIR/prom" \
    --web.listen-address="127.0.0.1:$PROM_PORT" \
    >"$E2E_DIR/prometheus.log" 2>&1 &
E2E_PIDS="$! $E2E_PIDS"
prom_ready() {
	http GET "http://127.0.0.1:$PROM_PORT/-/ready" "$E2E_DIR/ready" &&
	    head -1 "$E2E_DIR/ready" | grep -q ' 200 '
}
e2e_poll 30 prom_ready || e2e_die "prometheus not ready within 30 s: $(tail -5 "$E2E_DIR/prometheus.log")"

# ---- six messages through Postfix ----
C=$E2E_CLIENT
H=client.e2e.test
CASES="
m-pass		$C		u@pass.e2e.test
m-pass2		$C		u@include.e2e.test
m-fail		$C		u@fail.e2e.test
m-softfail	$C		u@softfail.e2e.test
m-none		$C		u@none.e2e.test
m-trusted	192.0.2.250	u@fail.e2e.test
"
while read -r c ip from; do
	[ -n "$c" ] || continue
	e2e_msg "$E2E_DIR/$c.eml" "$from"
	e2e_swaks_bg "$c" "$ip" "$H" "$from" "$E2E_DIR/$c.eml"
done <<EOF
$CASES
EOF
while read -r c ip from; do
	[ -n "$c" ] || continue
	e2e_swaks_wait "$c" && e2e_wait_delivered "$c"
done <<EOF
$CASES
EOF

http GET "$URL/metrics" "$E2E_DIR/m1"
promtool_ok "promtool, after six messages" "$E2E_DIR/m1"
expect_value "accepted" "$E2E_DIR/m1" 'authmilter_messages_total{action="accept"}' 6
expect_value "rejected" "$E2E_DIR/m1" 'authmilter_messages_total{action="reject"}' 0
expect_value "not judged" "$E2E_DIR/m1" authmilter_messages_not_judged_total 1
expect_value "spf pass" "$E2E_DIR/m1" 'authmilter_results_total{method="spf",result="pass"}' 2
expect_value "spf fail" "$E2E_DIR/m1" 'authmilter_results_total{method="spf",result="fail"}' 1
expect_value "spf softfail" "$E2E_DIR/m1" 'authmilter_results_total{method="spf",result="softfail"}' 1
expect_value "spf none" "$E2E_DIR/m1" 'authmilter_results_total{method="spf",result="none"}' 1
expect_value "histogram count" "$E2E_DIR/m1" authmilter_message_duration_seconds_count 6
expect_value "histogram +Inf" "$E2E_DIR/m1" 'authmilter_message_duration_seconds_bucket{le="+Inf"}' 6
lookups=$(value "$E2E_DIR/m1" authmilter_dns_lookups_total)
queries=$(value "$E2E_DIR/m1" authmilter_dns_queries_total)
hits=$(value "$E2E_DIR/m1" authmilter_dns_cache_hits_total)
shared=$(value "$E2E_DIR/m1" authmilter_dns_shared_total)
if [ "${lookups:-0}" -gt 0 ] && [ "${queries:-0}" -gt 0 ] &&
    [ -n "$shared" ] && [ "$lookups" = $((queries + hits + shared)) ]; then
	e2e_ok "dns: $lookups lookups = $queries queries + $hits cache hits + $shared shared"
else
	e2e_fail "dns counters" "lookups=$lookups queries=$queries hits=$hits shared=$shared"
fi

# ---- what Prometheus scraped ----
prom_count() {
	http GET "http://127.0.0.1:$PROM_PORT/api/v1/query?query=sum(authmilter_messages_total)" \
	    "$E2E_DIR/q" || return 1
	body "$E2E_DIR/q" >"$E2E_DIR/q.json"
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "success", r
v = r["data"]["result"]
sys.exit(0 if v and v[0]["value"][1] == "6" else 1)' "$E2E_DIR/q.json"
}
if e2e_poll 30 prom_count; then
	e2e_ok "prometheus: sum(authmilter_messages_total) = 6"
else
	e2e_fail "prometheus query" "$(head -c 400 "$E2E_DIR/q.json" 2>/dev/null)"
fi
prom_accept() {
	http GET "http://127.0.0.1:$PROM_PORT/api/v1/query?query=authmilter_messages_total%7Baction%3D%22accept%22%7D" \
	    "$E2E_DIR/qa" || return 1
	body "$E2E_DIR/qa" | grep -q '"job":"authmilter"' &&
	    body "$E2E_DIR/qa" | grep -q '"value":\[[0-9.]*,"6"\]'
}
if e2e_poll 10 prom_accept; then
	e2e_ok "prometheus: authmilter_messages_total{action=\"accept\"} = 6"
else
	e2e_fail "prometheus query accept" "$(body "$E2E_DIR/qa" | head -c 400)"
fi

# ---- HTTP edges ----
expect_status() {
	if head -1 "$2" | grep -q "^HTTP/1.1 $3 "; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "got: $(head -1 "$2")"
	fi
}
http GET "$URL/other" "$E2E_DIR/h404"
expect_status "404 for another path" "$E2E_DIR/h404" 404
http POST "$URL/metrics" "$E2E_DIR/h405"
expect_status "405 for POST" "$E2E_DIR/h405" 405
http GET "$URL/" "$E2E_DIR/h400" 'NONSENSE\r\n\r\n'
expect_status "400 for garbage" "$E2E_DIR/h400" 400
http GET "$URL/" "$E2E_DIR/h10" 'GET /metrics?x=1 HTTP/1.0\r\n\r\n'
expect_status "HTTP/1.0 with a query string" "$E2E_DIR/h10" 200
http GET "$URL/" "$E2E_DIR/hhead" 'HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n'
if head -1 "$E2E_DIR/hhead" | grep -q ' 200 ' && [ -z "$(body "$E2E_DIR/hhead")" ]; then
	e2e_ok "HEAD: 200 without a body"
else
	e2e_fail "HEAD" "$(head -c 200 "$E2E_DIR/hhead")"
fi
# 24 idle connections (the server takes 16): each is dropped at its
# deadline, so a scrape behind them is still answered.
timeout 30 /usr/bin/python3 - "$STATS_PORT" "$E2E_DIR/idle.ready" <<'EOF' &
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) for _ in range(24)]
socks[0].sendall(b"GET /metr")   # a request head that never ends
open(sys.argv[2], "w").close()
time.sleep(25)
EOF
IDLE=$!
e2e_poll 10 test -f "$E2E_DIR/idle.ready"
http GET "$URL/metrics" "$E2E_DIR/m2"
expect_status "a scrape behind 24 idle clients" "$E2E_DIR/m2" 200
kill "$IDLE" 2>/dev/null
wait "$IDLE" 2>/dev/null

# ---- the JSON decision log ----
grep -o 'authmilter\[info\]: {.*}$' "$E2E_DIR/authmilter.log" |
    sed 's/^authmilter\[info\]: //' >"$E2E_DIR/decisions.json"
if /usr/bin/python3 - "$E2E_DIR/decisions.json" >"$E2E_DIR/json.check" 2>&1 <<'EOF'; then
import json, sys
keys = set("""queue_id action reply judged skip_reason client_ip helo mail_from
dmarc spf spf_helo arc arc_seal removed_forged policy_reason limit dkim
dkim_not_listed dkim_not_verified""".split())
objs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert len(objs) == 6, "%d objects" % len(objs)
for o in objs:
    assert set(o) == keys, sorted(set(o) ^ keys)
    assert o["action"] == "accept" and o["queue_id"] not in ("", "NOQUEUE"), o
by = {o["mail_from"]: o for o in objs if o["judged"]}
assert by["u@fail.e2e.test"]["spf"]["result"] == "fail", by
assert by["u@pass.e2e.test"]["spf"]["domain"] == "pass.e2e.test", by
assert [o["skip_reason"] for o in objs if not o["judged"]] == ["trusted network"], objs
EOF
	e2e_ok "json log: six objects, the documented keys, the results"
else
	e2e_fail "json log" "$(tail -3 "$E2E_DIR/json.check")"
fi

# ---- IPv6 ----
STATS6_PORT=$(e2e_free_port)
e2e_conf_set StatsSocket "inet:$STATS6_PORT@[::1]"
e2e_restart_milter
six_ok() {
	http GET "http://[::1]:$STATS6_PORT/metrics" "$E2E_DIR/m6" &&
	    head -1 "$E2E_DIR/m6" | grep -q ' 200 '
}
if e2e_poll 10 six_ok; then
	promtool_ok "StatsSocket inet:PORT@[::1]" "$E2E_DIR/m6"
else
	e2e_fail "StatsSocket inet:PORT@[::1]" "no answer on [::1]:$STATS6_PORT"
fi
e2e_finish
