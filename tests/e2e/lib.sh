# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/lib.sh: the end-to-end harness, sourced by tests/e2e/test_*.sh.
#
# It runs, all on 127.0.0.1 with free high ports and all inside one private
# temporary directory ($E2E_DIR):
#   nsd       authoritative for every tests/zones/*.zone that has an $ORIGIN,
#             plus servfail.test (configured without data: SERVFAIL);
#   silent    a UDP+TCP socket that never answers (zone timeout.test);
#   unbound   the resolver authmilter asks (DNSServer), stub-zones to the
#             two above, everything else REFUSED (hermetic: no Internet);
#   authmilter from $AM_TOP_BUILDDIR/milter/authmilter, generated config;
#   postfix   a private instance (own config, queue and data directories),
#             smtpd with XCLIENT allowed from 127.0.0.0/8, smtpd_milters the
#             authmilter, delivery by virtual(8) into one maildir.
# A trap on EXIT stops everything and removes the directory (AM_E2E_KEEP=1
# keeps it). Every wait is bounded. Results follow the automake protocol:
# exit 0 all passed, 1 something failed; a missing dependency is a failure.
#
# Entry points: e2e_init, e2e_start_dns, e2e_conf_set, e2e_start_milter,
# e2e_start_postfix, e2e_start_all, e2e_msg, e2e_swaks, e2e_session,
# e2e_wait_delivered, e2e_headers, e2e_our_ar, expect_header_match,
# expect_no_header_match, e2e_ref_add, e2e_ref_check, e2e_ok, e2e_fail,
# e2e_finish.

E2E_AUTHSERV=mx.example.test
E2E_ALIAS=mx-alias.example.test
E2E_CLIENT=192.0.2.10
E2E_FAILS=0
E2E_PASSES=0
E2E_PIDS=""

# e2e_die MSG: a fatal harness error (the test fails, never skips).
e2e_die() {
	echo "FAIL: $E2E_NAME: $*" >&2
	E2E_FAILS=$((E2E_FAILS + 1))
	exit 1
}

# e2e_need CMD...: each command must exist.
e2e_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
		    e2e_die "missing dependency: $c (see tests/e2e/lib.sh)"
	done
}

# e2e_init NAME: checks dependencies, makes $E2E_DIR, installs the trap.
e2e_init() {
	E2E_NAME=$1
	E2E_T0=$(date +%s.%N)
	: "${AM_TOP_SRCDIR:=$(cd "$E2E_LIBDIR/../.." && pwd)}"
	: "${AM_TOP_BUILDDIR:=$AM_TOP_SRCDIR}"
	E2E_SRC=$AM_TOP_SRCDIR/tests/e2e
	E2E_ZONES=$AM_TOP_SRCDIR/tests/zones
	AM_BIN=$AM_TOP_BUILDDIR/milter/authmilter
	PATH=$PATH:/usr/sbin:/sbin
	E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/am-e2e.XXXXXX") ||
	    e2e_die "mktemp failed"
	# Postfix daemons (user postfix, nobody) must reach the queue.
	chmod 755 "$E2E_DIR"
	trap e2e_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# e2e_need_servers: everything e2e_start_all needs.
e2e_need_servers() {
	[ "$(id -u)" = 0 ] || e2e_die "must run as root (Postfix's master needs it)"
	e2e_need nsd unbound unbound-control dig postfix postconf swaks
	[ -x /usr/bin/python3 ] || e2e_die "missing dependency: /usr/bin/python3"
	[ -x "$AM_BIN" ] || e2e_die "daemon not built: $AM_BIN"
}

# e2e_cleanup: the EXIT trap. Stops what was started, newest first.
e2e_cleanup() {
	local rc=$? master p
	trap - EXIT
	# signal everything first, then wait: the stops overlap
	master=
	if [ -n "${E2E_PF_ETC:-}" ] && [ -f "$E2E_PF_ETC/main.cf" ]; then
		master=$(cat "$E2E_DIR/pf/spool/pid/master.pid" 2>/dev/null)
		postfix -c "$E2E_PF_ETC" stop >/dev/null 2>&1
	fi
	e2e_stop_nsd &
	for p in $E2E_PIDS; do
		kill "$p" 2>/dev/null
	done
	e2e_milter_exit
	for p in $master $E2E_PIDS; do
		e2e_wait_gone "$p"
	done
	wait
	[ -f "$E2E_DIR/authmilter.log" ] &&
	    e2e_sanitizer_check "daemon log" "$E2E_DIR/authmilter.log"
	if [ "$rc" != 0 ] || [ "$E2E_FAILS" != 0 ]; then
		e2e_show_logs
		rc=1
	fi
	printf '%s: %d passed, %d failed, %s s\n' "$E2E_NAME" \
	    "$E2E_PASSES" "$E2E_FAILS" \
	    "$(awk -v a="$E2E_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
	if [ "${AM_E2E_KEEP:-0}" = 1 ]; then
		echo "kept $E2E_DIR"
	else
		rm -rf "$E2E_DIR"
	fi
	exit "$rc"
}

# e2e_milter_wait_exit LABEL: the daemon, sent SIGTERM, must exit 0 within
# 10 s (a crash, or a LeakSanitizer report at exit, fails case LABEL).
e2e_milter_wait_exit() {
	local i=0 st rc
	while kill -0 "$E2E_MILTER_PID" 2>/dev/null; do
		st=$(awk '{ print $3 }' "/proc/$E2E_MILTER_PID/stat" 2>/dev/null)
		[ "$st" = Z ] && break
		i=$((i + 1))
		if [ $i -ge 100 ]; then
			kill -9 "$E2E_MILTER_PID"
			e2e_fail "$1" "still running 10 s after SIGTERM"
			break
		fi
		sleep 0.1
	done
	wait "$E2E_MILTER_PID"
	rc=$?
	[ $i -ge 100 ] || [ $rc = 0 ] ||
	    e2e_fail "$1" "exit status $rc after SIGTERM"
}

# e2e_milter_exit: e2e_milter_wait_exit for the EXIT trap.
e2e_milter_exit() {
	[ -n "${E2E_MILTER_PID:-}" ] || return 0
	e2e_milter_wait_exit "daemon exit"
}

# e2e_show_logs: the tails of the servers' logs, for a failed run.
e2e_show_logs() {
	local f
	for f in authmilter.log pf/postfix.log unbound.log nsd/nsd.log; do
		[ -s "$E2E_DIR/$f" ] || continue
		echo "---- last lines of $f ----"
		tail -n 25 "$E2E_DIR/$f"
	done
}

# e2e_wait_gone PID: waits up to 10 s for PID to exit (a zombie child of
# ours counts as gone, and is reaped), then kills it.
e2e_wait_gone() {
	local i=0 st
	[ -n "$1" ] || return 0
	while kill -0 "$1" 2>/dev/null; do
		st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
		[ "$st" = Z ] && break
		i=$((i + 1))
		if [ $i -ge 100 ]; then
			kill -9 "$1" 2>/dev/null
			break
		fi
		sleep 0.1
	done
	wait "$1" 2>/dev/null
	return 0
}

# e2e_poll SECONDS CMD...: runs CMD every 0.1 s until it succeeds; 1 on timeout.
e2e_poll() {
	local n i
	n=$(($1 * 10))
	shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $n ] && return 1
		sleep 0.1
	done
	return 0
}

# e2e_free_port: prints a port free on 127.0.0.1 for both TCP and UDP.
e2e_free_port() {
	/usr/bin/python3 - <<'EOF'
import socket
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        t.close()
        continue
    u.close()
    t.close()
    print(port)
    break
EOF
}

# e2e_tcp_open PORT: true when something accepts on 127.0.0.1:PORT.
e2e_tcp_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# e2e_dns_ready PORT NAME [DIG-ARG]: true when the server answers NAME SOA.
e2e_dns_ready() {
	dig ${3:-} +time=1 +tries=1 -p "$1" @127.0.0.1 "$2" SOA 2>/dev/null |
	    grep -q 'status: NOERROR'
}

E2E_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$E2E_LIBDIR/lib_dns.sh"
. "$E2E_LIBDIR/lib_servers.sh"
. "$E2E_LIBDIR/lib_check.sh"
