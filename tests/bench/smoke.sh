#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# smoke.sh: keeps the benchmark working (make check). A small corpus
# (40 messages, 10 domains, one big message) is generated, served by nsd on
# loopback, replayed by milterload over 2 connections into authmilter, and
# every verdict is compared with the ground truth by check_verdicts.py: spf
# always, spf_helo/dkim/dmarc/action as soon as authmilter's header carries
# them. Then the same over TCP, written as Postfix writes (milterload
# --writes postfix): the verdicts again, and no write of the client may
# wait for authmilter's delayed ACK (Nagle; 40 ms a message before the DATA
# step was answered). Fails on any mismatch, any load-client error, a held
# write, or a missing tool. No timing is asserted. Only authmilter runs (no peers), all bounded:
# under a minute.
#
# Env: AM_TOP_SRCDIR, AM_TOP_BUILDDIR (set by make check), BENCH_KEEP=1
# keeps the scratch directory.
set -u
SRC=${AM_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${AM_TOP_BUILDDIR:-$SRC}
BENCH=$SRC/tests/bench
PY=/usr/bin/python3
AM=$BUILD/milter/authmilter
LOAD=$BUILD/tests/bench/milterload
PATH=$PATH:/usr/sbin:/sbin

fail() {
	echo "FAIL: bench smoke: $*" >&2
	echo "bench smoke: 0 passed, 1 failed"
	exit 1
}

for t in "$AM" "$LOAD"; do
	[ -x "$t" ] || fail "missing $t (build first)"
done
for t in nsd timeout; do
	command -v "$t" >/dev/null 2>&1 || fail "missing $t"
done
$PY -c 'import dkim, nacl' 2>/dev/null || fail "python3-dkim / python3-nacl missing"

DIR=$(mktemp -d "${TMPDIR:-/tmp}/am-bench-smoke.XXXXXX") || fail "mktemp"
AM_PID=
cleanup() {
	[ -n "$AM_PID" ] && kill "$AM_PID" 2>/dev/null
	[ -n "$AM_PID" ] && wait "$AM_PID" 2>/dev/null
	nsd_stop "$DIR/nsd" 2>/dev/null
	[ "${BENCH_KEEP:-0}" = 1 ] && echo "kept $DIR" >&2 || rm -rf "$DIR"
}
trap cleanup EXIT
. "$SRC/tests/lib/nsd.sh"

timeout 120 $PY "$BENCH/gen_corpus.py" --out "$DIR/corpus" --seed 8 \
    --domains 10 --messages 40 --big 1 --key-pool 2 >"$DIR/gen.log" 2>&1 ||
    fail "corpus generator: $(tail -3 "$DIR/gen.log")"

mkdir -p "$DIR/nsd"
PORT=$(NSD_ADDRS=127.0.0.1 NSD_LIFETIME=300 nsd_start "$DIR/nsd" \
    "$DIR/corpus/corpus.zone" 2>"$DIR/nsd.err") ||
    fail "nsd did not start: $(tail -3 "$DIR/nsd.err")"

cat >"$DIR/authmilter.conf" <<EOF
Socket unix:$DIR/am.sock
DNSServer 127.0.0.1@$PORT
DNSTimeout 2s
DNSRetries 1
TrustedNetworks 192.0.2.250/32
AuthservID bench.test
Syslog no
LogLevel warning
EOF
# Keywords that arrive with later modules: kept when authmilter knows them.
for kv in "DMARCEnforce yes"; do
	cp "$DIR/authmilter.conf" "$DIR/try.conf"
	echo "$kv" >>"$DIR/try.conf"
	"$AM" -n -c "$DIR/try.conf" >/dev/null 2>&1 && cp "$DIR/try.conf" "$DIR/authmilter.conf"
done
"$AM" -n -c "$DIR/authmilter.conf" >"$DIR/am-n.log" 2>&1 ||
    fail "authmilter -n: $(cat "$DIR/am-n.log")"
timeout 300 "$AM" -c "$DIR/authmilter.conf" -f >"$DIR/am.log" 2>&1 &
AM_PID=$!
for i in $(seq 1 50); do
	[ -S "$DIR/am.sock" ] && break
	kill -0 "$AM_PID" 2>/dev/null || fail "authmilter died: $(tail -3 "$DIR/am.log")"
	sleep 0.1
done
[ -S "$DIR/am.sock" ] || fail "authmilter socket did not appear"

timeout 120 "$LOAD" --corpus "$DIR/corpus" --milter "unix:$DIR/am.sock" \
    -c 2 --time-limit 60 --timeout 10 --label smoke \
    --out "$DIR/results.jsonl" >"$DIR/load.json" 2>"$DIR/load.err"
rc=$?
cat "$DIR/load.json"
[ $rc -eq 0 ] || fail "milterload exit $rc: $(head -3 "$DIR/load.err")"

$PY "$BENCH/check_verdicts.py" --truth "$DIR/corpus/truth.jsonl" \
    --results "$DIR/results.jsonl" --require spf --label smoke ||
    fail "verdicts differ from the ground truth"
kill -0 "$AM_PID" 2>/dev/null || fail "authmilter died during the run"
# under --enable-sanitizers: UBSan reports do not stop the daemon
! grep -q 'runtime error\|AddressSanitizer' "$DIR/am.log" ||
    fail "sanitizer report from authmilter: $(grep -m1 'runtime error\|AddressSanitizer' "$DIR/am.log")"

# ---- over TCP on 127.0.0.1, as Postfix writes ----
kill "$AM_PID" 2>/dev/null
wait "$AM_PID" 2>/dev/null
AM_PID=
for try in 1 2 3 4 5; do
	AM_PORT=$((20000 + RANDOM % 40000))
	sed "s|^Socket .*|Socket inet:$AM_PORT@127.0.0.1|" "$DIR/authmilter.conf" \
	    >"$DIR/am-inet.conf"
	timeout 300 "$AM" -c "$DIR/am-inet.conf" -f >"$DIR/am-inet.log" 2>&1 &
	AM_PID=$!
	for i in $(seq 1 50); do
		sleep 0.1
		kill -0 "$AM_PID" 2>/dev/null || break
		# ours, not another program's: the daemon is still alive
		(exec 3<>"/dev/tcp/127.0.0.1/$AM_PORT") 2>/dev/null &&
		    sleep 0.2 && kill -0 "$AM_PID" 2>/dev/null && break 2
	done
	kill "$AM_PID" 2>/dev/null	# port taken, or never listened: next port
	wait "$AM_PID" 2>/dev/null
	AM_PID=
done
[ -n "$AM_PID" ] || fail "authmilter did not listen on TCP: $(tail -3 "$DIR/am-inet.log")"
timeout 120 "$LOAD" --corpus "$DIR/corpus" --milter "inet:$AM_PORT@127.0.0.1" \
    -c 1 --writes postfix --time-limit 60 --timeout 10 --label smoke-inet \
    --out "$DIR/results-inet.jsonl" >"$DIR/load-inet.json" 2>"$DIR/load-inet.err"
rc=$?
cat "$DIR/load-inet.json"
[ $rc -eq 0 ] || fail "milterload (inet) exit $rc: $(head -3 "$DIR/load-inet.err")"
$PY "$BENCH/check_verdicts.py" --truth "$DIR/corpus/truth.jsonl" \
    --results "$DIR/results-inet.jsonl" --require spf --label smoke-inet ||
    fail "verdicts over TCP differ from the ground truth"
held=$($PY -c 'import json, sys; print(json.load(sys.stdin)["nagle_held"])' \
    <"$DIR/load-inet.json") || fail "no nagle_held in milterload's summary"
[ "$held" = 0 ] ||
    fail "over TCP $held client writes waited for authmilter's delayed ACK (Nagle)"
! grep -q 'runtime error\|AddressSanitizer' "$DIR/am-inet.log" ||
    fail "sanitizer report from authmilter: $(grep -m1 'runtime error\|AddressSanitizer' "$DIR/am-inet.log")"
echo "bench smoke: 1 passed, 0 failed"
exit 0
