#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# run-check.sh: the authentication_milter corpus ($AM_CORPUS/
# authentication_milter) through the whole engine by `authmilter --check`,
# with DNS from a real nsd on loopback serving the corpus zonefile
# (converted by convert.py: one master file per zone). Every case runs in
# both DMARC modes (rfc7489, as upstream's Mail::DMARC; rfc9989) and is
# compared with the corpus by amcorpus.py, which prints one line per case,
# the counts per method and the differences between the two modes. Fails
# on a case that differs unless tests/amcorpus/known-failures lists it
# (with the reason), and on a listed case that passes.
set -u
: "${AM_TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${AM_TOP_BUILDDIR:=$AM_TOP_SRCDIR}"
: "${AM_CORPUS:=/work/shared/corpus}"
export AM_CORPUS
HERE=$AM_TOP_SRCDIR/tests/amcorpus
BIN=$AM_TOP_BUILDDIR/milter/authmilter
PATH=$PATH:/usr/sbin:/sbin
T0=$(date +%s.%N)

fail() { echo "FAIL: run-check.sh: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "not built: $BIN"
command -v nsd >/dev/null || fail "missing dependency: nsd"
command -v dig >/dev/null || fail "missing dependency: dig (dnsutils)"
[ -d "$AM_CORPUS/authentication_milter" ] ||
    fail "no corpus at $AM_CORPUS/authentication_milter"

. "$AM_TOP_SRCDIR/tests/lib/nsd.sh"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/am-amcorpus.XXXXXX") || fail "mktemp"
# nsd_stop signals timeout(1), which may leave nsd itself: its pidfile too
stop() {
	local p
	p=$(cat "$DIR/nsd/nsd.pid" 2>/dev/null)
	nsd_stop "$DIR/nsd"
	[ -n "$p" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nsd ] &&
	    kill "$p" 2>/dev/null
	rm -rf "$DIR"
}
trap stop EXIT
trap 'exit 1' INT TERM HUP

/usr/bin/python3 "$HERE/convert.py" zones "$DIR/zones" || fail "convert.py zones"
/usr/bin/python3 "$HERE/convert.py" cases "$DIR/cases.json" || fail "convert.py cases"
mkdir -p "$DIR/nsd" "$DIR/conf"
PORT=$(NSD_ADDRS=127.0.0.1 nsd_start "$DIR/nsd" "$DIR"/zones/*.zone) ||
    fail "nsd did not start"

# the names the corpus documents as NXDOMAIN must be, from a served zone
# (not REFUSED)
while read -r name type; do
	st=$(dig +norec +time=2 +tries=1 -p "$PORT" @127.0.0.1 "$name" "$type" |
	    sed -n 's/.*status: \([A-Z]*\).*/\1/p')
	[ "$st" = NXDOMAIN ] || fail "$name $type: $st, want NXDOMAIN"
done <"$DIR/zones/nxdomain.list"

for cfg in normal dmarc_reject dmarc_reject_wl dryrun hide_none timeout handler; do
	for mode in rfc7489 rfc9989; do
		f=$DIR/conf/$cfg.$mode.conf
		/usr/bin/python3 "$HERE/amcorpus.py" conf "$cfg" "$mode" "$PORT" >"$f"
		"$BIN" -n -c "$f" >"$DIR/conf.out" 2>&1 ||
		    fail "authmilter -n rejects $cfg.$mode.conf: $(cat "$DIR/conf.out")"
	done
done

/usr/bin/python3 "$HERE/amcorpus.py" check "$DIR/cases.json" \
    "$HERE/known-failures" "$BIN" "$DIR/conf"
rc=$?
awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "run-check.sh: %.1f s\n", b - a }'
exit $rc
