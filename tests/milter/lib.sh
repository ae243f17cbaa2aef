# SPDX-License-Identifier: BSD-2-Clause
# tests/milter/lib.sh: the daemon's process life under load, without an MTA.
# Sourced by tests/milter/test_*.sh.
#
# A seeded corpus (tests/bench/gen_corpus.py) is served by a private nsd on
# 127.0.0.1 and replayed by tests/bench/milterload (the MTA side of the
# milter protocol) into authmilter on a unix socket in $ML_DIR. Every wait
# is bounded; a trap on EXIT stops what was started and removes $ML_DIR
# (ML_KEEP=1 keeps it). A missing dependency is a failure, never a skip.
#
# Entry points: ml_init NAME, ml_corpus, ml_conf FILE AUTHSERVID [LINE...],
# ml_start CONF, ml_load_bg ARGS..., ml_wait_log PATTERN COUNT SECONDS,
# ml_wait_exit SECONDS, ml_decisions, ml_ok, ml_fail, ml_finish.
# Variables: ML_DIR, ML_AM (binary), ML_PID (daemon), ML_LOG (its log),
# ML_LOAD_PID, ML_RC (exit status after ml_wait_exit).

ML_FAILS=0
ML_PASSES=0
ML_PID=
ML_LOAD_PID=
PY=/usr/bin/python3

ml_die() {
	echo "FAIL: $ML_NAME: $*" >&2
	ML_FAILS=$((ML_FAILS + 1))
	exit 1
}

ml_ok() {
	echo "ok: $ML_NAME: $1"
	ML_PASSES=$((ML_PASSES + 1))
}

# ml_fail CASE WHY
ml_fail() {
	echo "FAIL: $ML_NAME: $1: $2" >&2
	ML_FAILS=$((ML_FAILS + 1))
}

ml_cleanup() {
	local rc=$?
	trap - EXIT
	[ -n "$ML_LOAD_PID" ] && kill "$ML_LOAD_PID" 2>/dev/null
	[ -n "$ML_PID" ] && kill -9 "$ML_PID" 2>/dev/null
	wait 2>/dev/null
	nsd_stop "$ML_DIR/nsd" 2>/dev/null
	if [ "$rc" != 0 ] || [ "$ML_FAILS" != 0 ]; then
		[ -s "$ML_LOG" ] && { echo "---- last lines of the daemon log ----"; tail -n 30 "$ML_LOG"; }
		rc=1
	fi
	echo "$ML_NAME: $ML_PASSES passed, $ML_FAILS failed"
	if [ "${ML_KEEP:-0}" = 1 ]; then
		echo "kept $ML_DIR"
	else
		rm -rf "$ML_DIR"
	fi
	exit "$rc"
}

# ml_init NAME: dependencies, $ML_DIR, the trap.
ml_init() {
	local t
	ML_NAME=$1
	: "${AM_TOP_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
	: "${AM_TOP_BUILDDIR:=$AM_TOP_SRCDIR}"
	ML_AM=$AM_TOP_BUILDDIR/milter/authmilter
	ML_LOADER=$AM_TOP_BUILDDIR/tests/bench/milterload
	PATH=$PATH:/usr/sbin:/sbin
	for t in "$ML_AM" "$ML_LOADER"; do
		[ -x "$t" ] || ml_die "missing $t (build first)"
	done
	for t in nsd timeout; do
		command -v "$t" >/dev/null 2>&1 || ml_die "missing dependency: $t"
	done
	$PY -c 'import dkim, nacl' 2>/dev/null ||
	    ml_die "missing dependency: python3-dkim / python3-nacl"
	ML_DIR=$(mktemp -d "${TMPDIR:-/tmp}/am-milter.XXXXXX") || ml_die "mktemp"
	ML_LOG=$ML_DIR/am.log
	trap ml_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	. "$AM_TOP_SRCDIR/tests/lib/nsd.sh"
}

# ml_corpus: 60 messages from 10 domains (no big ones), nsd serving them.
ml_corpus() {
	timeout 120 $PY "$AM_TOP_SRCDIR/tests/bench/gen_corpus.py" \
	    --out "$ML_DIR/corpus" --seed 8 --domains 10 --messages 60 \
	    --big 0 --key-pool 2 >"$ML_DIR/gen.log" 2>&1 ||
	    ml_die "corpus generator: $(tail -3 "$ML_DIR/gen.log")"
	mkdir -p "$ML_DIR/nsd"
	ML_DNS_PORT=$(NSD_ADDRS=127.0.0.1 NSD_LIFETIME=600 nsd_start "$ML_DIR/nsd" \
	    "$ML_DIR/corpus/corpus.zone" 2>"$ML_DIR/nsd.err") ||
	    ml_die "nsd did not start: $(tail -3 "$ML_DIR/nsd.err")"
}

# ml_conf FILE AUTHSERVID [LINE...]: a configuration for this run.
ml_conf() {
	local f=$1 id=$2
	shift 2
	{
		echo "Socket unix:$ML_DIR/am.sock"
		echo "DNSServer 127.0.0.1@$ML_DNS_PORT"
		echo "DNSTimeout 2s"
		echo "DNSRetries 1"
		echo "TrustedNetworks 192.0.2.250/32"
		echo "AuthservID $id"
		echo "Syslog no"
		echo "LogLevel info"
		for l in "$@"; do
			echo "$l"
		done
	} >"$f"
}

# ml_start CONF: the daemon in the foreground, logging to $ML_LOG.
ml_start() {
	local i
	"$ML_AM" -n -c "$1" >"$ML_DIR/am-n.log" 2>&1 ||
	    ml_die "authmilter -n: $(cat "$ML_DIR/am-n.log")"
	"$ML_AM" -c "$1" -f >"$ML_LOG" 2>&1 &
	ML_PID=$!
	for i in $(seq 1 100); do
		[ -S "$ML_DIR/am.sock" ] && return 0
		kill -0 "$ML_PID" 2>/dev/null || ml_die "authmilter died: $(tail -3 "$ML_LOG")"
		sleep 0.1
	done
	ml_die "authmilter socket did not appear in 10 s"
}

# ml_load_bg ARGS...: milterload in the background over the corpus
# (bounded: at most 300 s), JSON summary in $ML_DIR/load.json.
ml_load_bg() {
	timeout 300 "$ML_LOADER" --corpus "$ML_DIR/corpus" \
	    --milter "unix:$ML_DIR/am.sock" --timeout 20 "$@" \
	    >"$ML_DIR/load.json" 2>"$ML_DIR/load.err" &
	ML_LOAD_PID=$!
}

# ml_decisions: the number of decision lines in the log so far.
ml_decisions() {
	grep -c ' action=' "$ML_LOG" 2>/dev/null
}

# ml_wait_log PATTERN COUNT SECONDS: until PATTERN (grep -E) is in the log
# COUNT times; 1 on timeout.
ml_wait_log() {
	local i n
	for i in $(seq 1 $(($3 * 10))); do
		n=$(grep -c -E "$1" "$ML_LOG" 2>/dev/null)
		[ "${n:-0}" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# ml_wait_exit SECONDS: waits for the daemon to exit (killed with -9 after
# SECONDS, a hang); its exit status in ML_RC (or "hang").
ml_wait_exit() {
	local i
	for i in $(seq 1 $(($1 * 10))); do
		if ! kill -0 "$ML_PID" 2>/dev/null ||
		    [ "$(awk '{ print $3 }' "/proc/$ML_PID/stat" 2>/dev/null)" = Z ]; then
			wait "$ML_PID"
			ML_RC=$?
			ML_PID=
			return 0
		fi
		sleep 0.1
	done
	kill -9 "$ML_PID" 2>/dev/null
	wait "$ML_PID" 2>/dev/null
	ML_PID=
	ML_RC=hang
	return 1
}

# ml_sanitizer_check CASE: the daemon log holds no ASan/UBSan/LSan report.
ml_sanitizer_check() {
	if grep -q -E 'Sanitizer|runtime error:' "$ML_LOG"; then
		ml_fail "$1" "sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error:' "$ML_LOG")"
	else
		ml_ok "$1"
	fi
}

ml_finish() {
	[ "$ML_FAILS" = 0 ] && exit 0
	exit 1
}
