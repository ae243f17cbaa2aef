# SPDX-License-Identifier: BSD-2-Clause
# tests/amcorpus/lib.sh: what run-daemon.sh adds to tests/e2e/lib.sh
# (sourced after it; lib.sh itself is not changed).
#
# amc_start_nsd ZONEDIR: nsd (tests/lib/nsd.sh) serving ZONEDIR/*.zone, the
#   converted corpus zones, instead of e2e_start_dns's tests/zones; sets
#   AMC_DNS_PORT. It uses E2E_NSD_DIR, so lib.sh's EXIT trap stops it and
#   a failed run shows its log. The daemon asks it directly (nsd does not
#   recurse but answers for its zones; every name a case needs is in one).
# amc_conf CONFIG MODE: the daemon's config (e2e_conf_set) for a corpus
#   config, from amcorpus.py conf; keys it does not set are cleared.
# (lib_servers.sh's main.cf has "local_header_rewrite_clients =": headers
# reach the milter as the client sent them, as --check reads them.)

amc_start_nsd() {
	. "$AM_TOP_SRCDIR/tests/lib/nsd.sh"
	E2E_NSD_DIR=$E2E_DIR/nsd
	mkdir -p "$E2E_NSD_DIR"
	AMC_DNS_PORT=$(NSD_ADDRS=127.0.0.1 nsd_start "$E2E_NSD_DIR" "$1"/*.zone \
	    2>>"$E2E_DIR/nsd.log") ||
	    e2e_die "nsd did not start: $(tail -5 "$E2E_DIR/nsd.log")"
	# nsd's own pid, for lib_dns.sh's e2e_stop_nsd (as e2e_start_nsd does)
	e2e_poll 5 test -s "$E2E_NSD_DIR/nsd.pid"
	E2E_NSD_MAIN=$(cat "$E2E_NSD_DIR/nsd.pid" 2>/dev/null)
}

amc_conf() {
	local k v
	for k in $(/usr/bin/python3 "$AMC_SRC/amcorpus.py" keys); do
		e2e_conf_set "$k" ""
	done
	while read -r k v; do
		e2e_conf_set "$k" "$v"
	done < <(/usr/bin/python3 "$AMC_SRC/amcorpus.py" conf "$1" "$2" "$AMC_DNS_PORT")
	# the daemon's log (lib.sh's default is debug)
	e2e_conf_set LogLevel info
}
