# SPDX-License-Identifier: BSD-2-Clause
#
# nsd.sh: run a private nsd on a free loopback port, for tests. Source it
# from bash:
#
#   . "$AM_TOP_SRCDIR/tests/lib/nsd.sh"
#   dir=$(mktemp -d)
#   port=$(nsd_start "$dir" tests/unit/dns/example.test.zone other.zone) || exit 1
#   dig +short @127.0.0.1 -p "$port" www.example.test A
#   nsd_stop "$dir"; rm -rf "$dir"
#
# nsd_start DIR ZONEFILE...
#   DIR is an existing scratch directory that nsd_start fills: nsd.conf,
#   nsd.log, nsd.child (the pid to stop), state files. Each ZONEFILE needs an
#   SOA; its zone name is its first "$ORIGIN" line, else its file name
#   without ".zone". nsd listens on 127.0.0.1 and ::1 (set NSD_ADDRS to
#   change, e.g. NSD_ADDRS=127.0.0.1) on a random high port, in the
#   foreground (-d) under timeout(1), so it dies by itself after
#   NSD_LIFETIME seconds (default 900) even if nobody calls nsd_stop.
#   Prints the port once nsd answers an SOA query for the first zone
#   (polled with dig or drill, up to 10 s); returns 1 with nsd's log on
#   stderr if it never does (after 5 ports tried).
# nsd_stop DIR
#   Stops that nsd (TERM, then KILL after 5 s). Safe to call twice.
#
# Needs: nsd (4.x), and dig (dnsutils) or drill (ldnsutils). Runs as root
# or not: no chroot, no user switch, everything under DIR.

_nsd_zone_name() {
	local name
	name=$(sed -n 's/^\$ORIGIN[[:space:]]\{1,\}\([^[:space:];]*\).*/\1/p' "$1" | head -n 1)
	[ -n "$name" ] || name=$(basename "$1" .zone)
	printf '%s\n' "${name%.}"
}

_nsd_conf() {
	local dir=$1 port=$2 a z; shift 2
	printf 'server:\n'
	for a in ${NSD_ADDRS:-127.0.0.1 ::1}; do
		printf '\tip-address: %s@%s\n' "$a" "$port"
	done
	printf '\tport: %s\n\tusername: ""\n\tchroot: ""\n' "$port"
	printf '\tzonesdir: "%s"\n\tpidfile: "%s/nsd.pid"\n' "$dir" "$dir"
	printf '\tdatabase: ""\n\tzonelistfile: "%s/zone.list"\n' "$dir"
	printf '\txfrdfile: "%s/xfrd.state"\n\txfrdir: "%s"\n' "$dir" "$dir"
	printf '\tlogfile: "%s/nsd.log"\n\tserver-count: 1\n' "$dir"
	printf '\tverbosity: 1\n\thide-version: yes\n'
	# tests send hundreds of queries a second from one address
	printf '\trrl-ratelimit: 0\n\trrl-whitelist-ratelimit: 0\n'
	printf 'remote-control:\n\tcontrol-enable: no\n'
	for z in "$@"; do
		printf 'zone:\n\tname: "%s"\n\tzonefile: "%s"\n' \
		    "$(_nsd_zone_name "$z")" "$(cd "$(dirname "$z")" && pwd)/$(basename "$z")"
	done
}

# Ask for the SOA of zone $2 on port $1; true if an answer came.
_nsd_answers() {
	if command -v dig >/dev/null 2>&1; then
		[ -n "$(dig +short +time=1 +tries=1 -p "$1" @127.0.0.1 "$2" SOA 2>/dev/null)" ]
	else
		drill -p "$1" "$2" SOA @127.0.0.1 2>/dev/null | grep -q 'rcode: NOERROR'
	fi
}

nsd_start() {
	local dir=$1 try port pid i zone
	shift
	[ -d "$dir" ] && [ $# -gt 0 ] || { echo "usage: nsd_start DIR ZONEFILE..." >&2; return 1; }
	zone=$(_nsd_zone_name "$1")
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		_nsd_conf "$dir" "$port" "$@" > "$dir/nsd.conf"
		: > "$dir/nsd.log"
		timeout -k 5 "${NSD_LIFETIME:-900}" nsd -d -c "$dir/nsd.conf" \
		    </dev/null >>"$dir/nsd.log" 2>&1 &
		pid=$!
		echo "$pid" > "$dir/nsd.child"
		for i in $(seq 1 50); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			# The answer must come from our nsd, not from another
			# test's on the same port: ours must still run and bind.
			if _nsd_answers "$port" "$zone" && kill -0 "$pid" 2>/dev/null &&
			    ! grep -q -i 'address already in use\|can.t bind' "$dir/nsd.log"; then
				echo "$port"
				return 0
			fi
			sleep 0.2
		done
		nsd_stop "$dir"
	done
	echo "nsd_start: nsd did not come up; its log:" >&2
	cat "$dir/nsd.log" >&2
	return 1
}

nsd_stop() {
	local dir=$1 pid i
	[ -f "$dir/nsd.child" ] || return 0
	pid=$(cat "$dir/nsd.child")
	rm -f "$dir/nsd.child"
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 25); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}
