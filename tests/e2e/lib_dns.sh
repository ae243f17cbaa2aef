# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/lib_dns.sh: the DNS part of the end-to-end harness (see lib.sh).
#
# e2e_start_dns starts nsd (authoritative, tests/zones/*.zone), a silent
# server and unbound (the resolver the daemon is given), and sets
# E2E_NSD_PORT, E2E_SILENT_PORT and E2E_DNS_PORT (unbound's).
# Why unbound in front of nsd: a real daemon talks to a recursive resolver;
# unbound turns "the zone's server does not answer" into a real SERVFAIL or
# a timeout, which the daemon must report as SPF temperror (RFC 7208 s.5).
# e2e_dns_flush empties unbound's cache, for a test that changes a zone.

# e2e_zone_origins: prints "origin file" for every zone file with an $ORIGIN.
e2e_zone_origins() {
	local f o
	for f in "$E2E_ZONES"/*.zone; do
		[ -f "$f" ] || continue
		o=$(awk 'toupper($1) == "$ORIGIN" { print $2; exit }' "$f")
		[ -n "$o" ] && echo "${o%.} $f"
	done | sort -u -k1,1
}

# e2e_start_nsd: nsd on a free port through tests/lib/nsd.sh. The zone
# servfail.test has a zone file that does not exist: nsd keeps it configured
# but unloaded and answers SERVFAIL for it.
e2e_start_nsd() {
	local d
	. "$AM_TOP_SRCDIR/tests/lib/nsd.sh"
	d=$E2E_DIR/nsd
	mkdir -p "$d"
	E2E_NSD_DIR=$d
	E2E_NSD_PORT=$(NSD_ADDRS=127.0.0.1 nsd_start "$d" \
	    "$E2E_ZONES/e2e.zone" \
	    $(e2e_zone_origins | awk '$1 != "e2e.test" { print $2 }') \
	    "$d/servfail.test.zone" \
	    2>>"$E2E_DIR/nsd.log") ||
	    e2e_die "nsd did not start: $(tail -5 "$d/nsd.log")"
	e2e_dns_ready "$E2E_NSD_PORT" e2e.test +norec ||
	    e2e_die "nsd on port $E2E_NSD_PORT does not serve e2e.test"
	# nsd's own pid, for e2e_stop_nsd should nsd_stop leave it behind
	e2e_poll 5 test -s "$d/nsd.pid"
	E2E_NSD_MAIN=$(cat "$d/nsd.pid" 2>/dev/null)
}

# e2e_stop_nsd: nsd_stop, then makes sure nsd itself (its pidfile's pid) is
# gone too: nsd_stop signals timeout(1), which may give up before nsd exits.
e2e_stop_nsd() {
	[ -n "${E2E_NSD_DIR:-}" ] || return 0
	nsd_stop "$E2E_NSD_DIR"
	if [ -n "${E2E_NSD_MAIN:-}" ] && kill -0 "$E2E_NSD_MAIN" 2>/dev/null; then
		kill "$E2E_NSD_MAIN" 2>/dev/null
		e2e_wait_gone "$E2E_NSD_MAIN"
	fi
}

# e2e_start_silent: a socket bound on UDP and TCP that never answers.
e2e_start_silent() {
	/usr/bin/python3 -c '
import socket, signal, sys
# A free UDP port whose TCP twin is free too (another test may hold it).
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", u.getsockname()[1]))
        break
    except OSError:
        u.close()
        t.close()
t.listen(1)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % u.getsockname()[1])
__import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.pause()
' "$E2E_DIR/silent.port" &
	E2E_PIDS="$! $E2E_PIDS"
	e2e_poll 10 test -s "$E2E_DIR/silent.port" ||
	    e2e_die "silent server did not start"
	E2E_SILENT_PORT=$(cat "$E2E_DIR/silent.port")
}

# e2e_unbound_stub NAME ADDR: one stub-zone, and a hole in the refuse-all.
e2e_unbound_stub() {
	printf 'server:\n\tlocal-zone: "%s." transparent\n' "$1"
	printf 'stub-zone:\n\tname: "%s."\n\tstub-addr: %s\n' "$1" "$2"
}

# e2e_start_unbound: the resolver, stub zones to nsd and to the silent port.
e2e_start_unbound() {
	local c o f
	E2E_DNS_PORT=$(e2e_free_port)
	c=$E2E_DIR/unbound.conf
	{
		printf 'server:\n\tinterface: 127.0.0.1@%s\n\tport: %s\n' \
		    "$E2E_DNS_PORT" "$E2E_DNS_PORT"
		printf '\tdo-ip6: no\n\tdo-daemonize: no\n\tusername: ""\n'
		printf '\tchroot: ""\n\tdirectory: "%s"\n' "$E2E_DIR"
		printf '\tpidfile: "%s/unbound.pid"\n' "$E2E_DIR"
		printf '\tuse-syslog: no\n\tlogfile: "%s/unbound.log"\n' "$E2E_DIR"
		printf '\tlog-time-ascii: yes\n\tverbosity: 1\n\tnum-threads: 1\n'
		printf '\tmodule-config: "iterator"\n\tdo-not-query-localhost: no\n'
		printf '\taccess-control: 127.0.0.0/8 allow\n'
		printf '\tqname-minimisation: no\n\tprefetch: no\n'
		# nothing leaves the machine: all but the stub zones is REFUSED
		printf '\tlocal-zone: "." refuse\n'
		printf 'remote-control:\n\tcontrol-enable: yes\n'
		printf '\tcontrol-interface: "%s/unbound.ctl"\n' "$E2E_DIR"
		printf '\tcontrol-use-cert: no\n'
		e2e_zone_origins | while read -r o f; do
			e2e_unbound_stub "$o" "127.0.0.1@$E2E_NSD_PORT"
		done
		e2e_unbound_stub servfail.test "127.0.0.1@$E2E_NSD_PORT"
		e2e_unbound_stub timeout.test "127.0.0.1@$E2E_SILENT_PORT"
	} >"$c"
	unbound-checkconf "$c" >/dev/null || e2e_die "unbound-checkconf failed"
	unbound -d -c "$c" >>"$E2E_DIR/unbound.log" 2>&1 &
	E2E_UNBOUND_PID=$!
	E2E_PIDS="$! $E2E_PIDS"
	e2e_poll 10 e2e_dns_ready "$E2E_DNS_PORT" e2e.test ||
	    e2e_die "unbound did not answer on port $E2E_DNS_PORT within 10 s"
}

# e2e_start_dns: nsd, the silent server and unbound.
e2e_start_dns() {
	e2e_start_nsd
	e2e_start_silent
	e2e_start_unbound
}

# e2e_dns_flush: forgets everything unbound cached.
e2e_dns_flush() {
	unbound-control -c "$E2E_DIR/unbound.conf" flush_zone . >/dev/null ||
	    e2e_die "unbound-control flush_zone failed"
	unbound-control -c "$E2E_DIR/unbound.conf" flush_infra all >/dev/null
}
