# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/lib_faults.sh: helpers of the reporting fault and fleet tests
# (test_report_faults.sh, test_report_fleet.sh). Sourced after lib.sh and
# lib_auth.sh, whose functions it uses and does not change.
#
# The mix: FAULTS_CASES, one message per policy domain of
# tests/zones/faults.zone (pass, none, quar, rej), so each run of it gives
# four verdicts and four report rows. faults_send PHASE sends it (case
# names PHASE-TAG) and writes the verdicts to $E2E_DIR/verdicts.PHASE, one
# line a case: the final reply ("queued" for any 250) and our
# Authentication-Results as delivered or held. faults_same_verdicts
# compares two phases: a report store that fails must change nothing here.
#
# Postfix: the report mailbox host rua.faults.test is a virtual mailbox
# domain too (main.cf hook), so reports sent through Postfix land in the
# maildir beside the test mail (Delivered-To: dmarc@rua.faults.test).
#
# Metrics: faults_metric PORT NAME prints one sample of a StatsSocket page.
#
# PostgreSQL (fleet test): faults_pg_init makes a cluster in $E2E_DIR/pg
# (initdb as the postgres user, trust authentication, a unix socket in
# that directory, no TCP listener), faults_pg_start / faults_pg_stop start
# and stop it (fast shutdown: sessions are ended, as in a server restart),
# faults_psql SQL runs one statement; FAULTS_PG_SPEC is the ReportStore
# URI. faults_cleanup (the EXIT trap of both tests) stops PostgreSQL and
# detaches a tmpfs mounted at $FAULTS_MNT before the harness's clean-up.

FAULTS_RUA=dmarc@rua.faults.test
# tag client From outcome (deliver, hold, reject)
FAULTS_CASES="
pass	$AUTH_C		u@pass.faults.test	deliver
none	$AUTH_BAD	u@none.faults.test	deliver
quar	$AUTH_BAD	u@quar.faults.test	hold
rej	$AUTH_BAD	u@rej.faults.test	reject
"
FAULTS_NCASES=4

e2e_postfix_pre_start() { :; }
e2e_postfix_main_extra() {
	echo "# added by tests/e2e/lib_faults.sh: the report mailbox host"
	echo "virtual_mailbox_domains = rcpt.test, rua.faults.test"
}

# faults_send PHASE: the mix, all at once, through $E2E_SMTP_PORT; waits
# for each outcome and writes $E2E_DIR/verdicts.PHASE.
faults_send() {
	local p=$1 t ip from out c f ar
	while read -r t ip from out; do
		[ -n "$t" ] || continue
		auth_msg "$E2E_DIR/$p-$t.eml" "$from"
		e2e_swaks_bg "$p-$t" "$ip" "$AUTH_HELO" "$from" "$E2E_DIR/$p-$t.eml"
	done <<<"$FAULTS_CASES"
	: >"$E2E_DIR/verdicts.$p"
	while read -r t ip from out; do
		[ -n "$t" ] || continue
		c=$p-$t
		auth_wait_swaks "$c"
		ar=
		case $out in
		deliver)
			e2e_wait_delivered "$c" &&
			    ar=$(e2e_our_ar "$E2E_FILE" | tr '\t' ' ') ;;
		hold)
			if e2e_poll 10 auth_held_file "$c"; then
				f=$(auth_held_file "$c")
				auth_held_headers "$f" >"$E2E_DIR/$c.held"
				ar=$(e2e_our_ar "$E2E_DIR/$c.held" | tr '\t' ' ')
			else
				e2e_fail "$c" "not on the hold queue"
			fi ;;
		esac
		case $AUTH_REPLY in
		250\ *) AUTH_REPLY=queued ;;
		esac
		printf '%s\t%s\t%s\n' "$t" "$AUTH_REPLY" "$ar" >>"$E2E_DIR/verdicts.$p"
	done <<<"$FAULTS_CASES"
}

# faults_expect_outcomes PHASE: each case got the outcome of its policy
# (queued and an A-R with dmarc=, or the 550 of rej.faults.test).
faults_expect_outcomes() {
	local bad
	bad=$(awk -F'\t' '
		$1 == "rej" && $2 !~ /^550 5\.7\.1 / { print }
		$1 != "rej" && ($2 != "queued" || $3 !~ /dmarc=/) { print }
	' "$E2E_DIR/verdicts.$1")
	if [ -z "$bad" ] && [ "$(wc -l <"$E2E_DIR/verdicts.$1")" = $FAULTS_NCASES ]; then
		e2e_ok "$1: $FAULTS_NCASES messages, each with its policy's outcome"
	else
		e2e_fail "$1: outcomes" "$bad"
	fi
}

# faults_same_verdicts PHASE REF: PHASE's replies and A-R equal REF's.
faults_same_verdicts() {
	if cmp -s "$E2E_DIR/verdicts.$1" "$E2E_DIR/verdicts.$2"; then
		e2e_ok "$1: replies and Authentication-Results as in $2"
	else
		e2e_fail "$1: verdicts differ from $2" \
		    "$(diff "$E2E_DIR/verdicts.$2" "$E2E_DIR/verdicts.$1")"
	fi
}

# faults_metric PORT NAME: the value of sample NAME on 127.0.0.1:PORT.
faults_metric() {
	timeout 15 /usr/bin/python3 -c '
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode())
' "$1" 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }'
}

# faults_metric_is PORT NAME WANT: for e2e_poll.
faults_metric_is() {
	[ "$(faults_metric "$1" "$2")" = "$3" ]
}

# faults_reports: the maildir files of the reports delivered so far.
faults_reports() {
	grep -l -x -F "Delivered-To: $FAULTS_RUA" "$E2E_DIR"/mail/all/new/* 2>/dev/null
}

# faults_report_domains: the Report Domain of each delivered report, one
# a line, sorted (a domain twice means a report sent twice).
faults_report_domains() {
	local f
	for f in $(faults_reports); do
		e2e_headers "$f" | sed -n 's/^Subject:.*Report Domain: \([^ ]*\) .*/\1/p'
	done | sort
}

# faults_report_xml FILE OUT: the XML report of a delivered message.
faults_report_xml() {
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import email, gzip, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
parts = [p for p in msg.walk() if p.get_filename()]
assert len(parts) == 1, 'attachments: %d' % len(parts)
open(sys.argv[2], 'wb').write(gzip.decompress(parts[0].get_payload(decode=True)))
EOF
}

# ---- PostgreSQL ----

FAULTS_PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

faults_as_pg() {
	runuser -u postgres -- "$@"
}

# faults_pg_init: a new cluster in $E2E_DIR/pg, started.
faults_pg_init() {
	[ -x "$FAULTS_PGBIN/initdb" ] ||
	    e2e_die "missing dependency: PostgreSQL (apt-get install postgresql)"
	e2e_need psql
	FAULTS_PG=$E2E_DIR/pg
	mkdir -p "$FAULTS_PG"
	chown postgres "$FAULTS_PG"
	faults_as_pg "$FAULTS_PGBIN/initdb" -D "$FAULTS_PG/data" -A trust -U am \
	    -E UTF8 --no-sync >"$E2E_DIR/initdb.log" 2>&1 ||
	    e2e_die "initdb: $(tail -5 "$E2E_DIR/initdb.log")"
	FAULTS_PG_SPEC="postgresql:///postgres?host=$FAULTS_PG&user=am"
	faults_pg_start || e2e_die "pg_ctl start: $(tail -5 "$FAULTS_PG/pg.log")"
}

faults_pg_start() {
	faults_as_pg "$FAULTS_PGBIN/pg_ctl" -D "$FAULTS_PG/data" \
	    -l "$FAULTS_PG/pg.log" -w -t 60 \
	    -o "-k $FAULTS_PG -c listen_addresses= -F" start >/dev/null
}

faults_pg_stop() {
	faults_as_pg "$FAULTS_PGBIN/pg_ctl" -D "$FAULTS_PG/data" -m "${1:-fast}" \
	    -w -t 60 stop >/dev/null
}

# faults_psql SQL: one statement, unaligned rows.
faults_psql() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 \
	    "postgresql:///postgres?host=$FAULTS_PG&user=am" -c "$1"
}

# faults_cleanup: the EXIT trap: PostgreSQL and the tmpfs first (lazy
# unmount: the daemon may still hold the database), then the harness's.
faults_cleanup() {
	local rc=$?
	if [ -n "${FAULTS_PG:-}" ] && [ -f "$FAULTS_PG/data/postmaster.pid" ]; then
		faults_pg_stop immediate 2>/dev/null
	fi
	if [ -n "${FAULTS_MNT:-}" ] && mountpoint -q "$FAULTS_MNT"; then
		umount -l "$FAULTS_MNT"
	fi
	(exit "$rc")
	e2e_cleanup
}
