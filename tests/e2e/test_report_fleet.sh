#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_report_fleet.sh: two daemons, one PostgreSQL report store, through
# the private Postfix (tests/e2e/lib.sh); the store failing under them.
#
# A real PostgreSQL (initdb in $E2E_DIR/pg, unix socket only) is the
# ReportStore of two authmilter processes, A (the harness's) and B (its
# own socket, StatsSocket and log), each the milter of its own smtpd in the
# one Postfix instance (master.cf: a second smtpd on another loopback port
# with -o smtpd_milters=B). Each phase sends the mix of lib_faults.sh
# through both smtpd:
#  up      8 rows, one per message, from both daemons;
#  down    PostgreSQL stopped: replies and Authentication-Results as in up,
#          authmilter_report_dropped_total is 4 on each daemon, the log
#          says why; no row;
#  back    PostgreSQL started again: each daemon reconnects, 8 more rows;
#  quiet   PostgreSQL restarted while no mail flows (each daemon's session
#          dies unnoticed): the next batch is written all the same (the
#          bug was that this batch was dropped), 8 more rows;
#  report  the rows moved into yesterday; one authmilter-report run sends
#          ONE report per policy domain through Postfix, whose counts add
#          up to the messages of both daemons (6 per domain: 3 through
#          each), each valid against rfc9990.xsd;
#  cold    PostgreSQL stopped, daemon B stopped and started again: it
#          starts (it refused to: a store away at start stopped the
#          daemon), same verdicts, 4 drops counted and a warning; then
#  warm    PostgreSQL started: B opens the store at its next batch, 4 rows;
#  hung    PostgreSQL frozen (SIGSTOP) with rows queued: mail still flows
#          with the same verdicts, and SIGTERM still stops daemon B within
#          10 s, exit 0 (the bug was a stop waiting for the store forever);
#          the rows it could not write are counted in its last log line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
. "$(dirname "$0")/lib_faults.sh"
e2e_init test_report_fleet
trap faults_cleanup EXIT
e2e_need xmllint
XSD=$AM_CORPUS/dmarc-reports/rfc9990.xsd
[ -r "$XSD" ] || e2e_die "no schema: $XSD"
REPORT=${AM_TOP_BUILDDIR:?}/milter/authmilter-report
e2e_need_servers
faults_pg_init

STATS_A=$(e2e_free_port)
STATS_B=$(e2e_free_port)
MILTER_B=$(e2e_free_port)
SMTP_B=$(e2e_free_port)
auth_dmarc_conf rfc9989 yes
e2e_conf_set ARCMode off
e2e_conf_set StatsSocket "inet:$STATS_A@127.0.0.1"
e2e_conf_set ReportStore "$FAULTS_PG_SPEC"
e2e_conf_set ReportOrgName "authmilter fleet"
e2e_conf_set ReportEmail dmarc-reports@example.test
e2e_conf_set ReportSendmail "/usr/sbin/sendmail -C $E2E_DIR/pf/etc -oi"

# master.cf: a second smtpd whose milter is daemon B
eval "faults_master_orig() $(declare -f e2e_postfix_master | tail -n +2)"
e2e_postfix_master() {
	faults_master_orig
	printf '127.0.0.1:%s inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:%s\n' \
	    "$SMTP_B" "$MILTER_B"
}

e2e_need postcat postqueue
e2e_start_dns
e2e_start_milter
# daemon B: A's configuration with its own socket, pid file and metrics
sed -e "s|^Socket .*|Socket inet:$MILTER_B@127.0.0.1|" \
    -e "s|^PidFile .*|PidFile $E2E_DIR/authmilter-b.pid|" \
    -e "s|^StatsSocket .*|StatsSocket inet:$STATS_B@127.0.0.1|" \
    "$E2E_CONF" >"$E2E_DIR/b.conf"
"$AM_BIN" -f -c "$E2E_DIR/b.conf" >>"$E2E_DIR/authmilter-b.log" 2>&1 &
PID_B=$!
E2E_PIDS="$PID_B $E2E_PIDS"
e2e_poll 10 e2e_tcp_open "$MILTER_B" || e2e_die "daemon B did not listen on $MILTER_B"
auth_start_postfix
SMTP_A=$E2E_SMTP_PORT
DROPPED=authmilter_report_dropped_total

# send_both PHASE: the mix through A (PHASE-a) and through B (PHASE-b)
send_both() {
	E2E_SMTP_PORT=$SMTP_A
	faults_send "$1-a"
	E2E_SMTP_PORT=$SMTP_B
	faults_send "$1-b"
	E2E_SMTP_PORT=$SMTP_A
}
rows() { faults_psql "SELECT count(*) FROM report_row" 2>/dev/null; }
rows_are() { [ "$(rows)" = "$1" ]; }
expect_rows() {
	if e2e_poll 15 rows_are "$2"; then
		e2e_ok "$1: $2 rows in PostgreSQL"
	else
		e2e_fail "$1" "$(rows) rows, want $2"
	fi
}
# expect_dropped CASE PORT N
expect_dropped() {
	if e2e_poll 15 faults_metric_is "$2" "$DROPPED" "$3"; then
		e2e_ok "$1: $DROPPED is $3"
	else
		e2e_fail "$1: $DROPPED" "$(faults_metric "$2" "$DROPPED"), want $3"
	fi
}

# ---- up ----
send_both up
faults_expect_outcomes up-a
faults_same_verdicts up-b up-a
expect_rows up 8
n=$(faults_psql "SELECT count(DISTINCT client_addr) FROM pg_stat_activity WHERE usename = 'am' AND pid <> pg_backend_pid()")
b=$(faults_psql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'am' AND pid <> pg_backend_pid()")
[ "$b" -ge 2 ] && e2e_ok "up: $b sessions from the daemons" ||
    e2e_fail "up: sessions" "$b sessions ($n clients)"

# ---- down: PostgreSQL stopped while mail flows ----
faults_pg_stop fast || e2e_die "pg_ctl stop failed"
send_both down
faults_same_verdicts down-a up-a
faults_same_verdicts down-b up-a
expect_dropped "down: daemon A" "$STATS_A" 4
expect_dropped "down: daemon B" "$STATS_B" 4
for l in authmilter.log authmilter-b.log; do
	if grep -q 'DMARC reports: report: dropped 0 rows (queue full), [1-4] rows (store .* failed: postgresql: ' \
	    "$E2E_DIR/$l"; then
		e2e_ok "down: $l says why rows were dropped"
	else
		e2e_fail "down: $l" "$(grep 'DMARC reports' "$E2E_DIR/$l" | tail -3)"
	fi
done

# ---- back: started again ----
faults_pg_start || e2e_die "pg_ctl start: $(tail -5 "$FAULTS_PG/pg.log")"
send_both back
faults_same_verdicts back-a up-a
faults_same_verdicts back-b up-a
expect_rows "back: reconnected" 16
expect_dropped "back: daemon A" "$STATS_A" 4
expect_dropped "back: daemon B" "$STATS_B" 4

# ---- quiet: restarted while no mail flows ----
faults_pg_stop fast || e2e_die "pg_ctl stop failed"
faults_pg_start || e2e_die "pg_ctl start: $(tail -5 "$FAULTS_PG/pg.log")"
send_both quiet
faults_same_verdicts quiet-a up-a
faults_same_verdicts quiet-b up-a
expect_rows "quiet: the first batch after a server restart" 24
expect_dropped "quiet: daemon A" "$STATS_A" 4
expect_dropped "quiet: daemon B" "$STATS_B" 4

# ---- report: one per domain over both daemons ----
faults_psql "UPDATE report_row SET time = time - 86400" >/dev/null
"$REPORT" -c "$E2E_CONF" >"$E2E_DIR/send.out" 2>&1
rc=$?
e2e_poll 20 sh -c "[ \$(grep -l -x -F 'Delivered-To: $FAULTS_RUA' $E2E_DIR/mail/all/new/* 2>/dev/null | wc -l) -ge 4 ]"
got=$(faults_report_domains | tr '\n' ' ')
if [ "$rc" = 0 ] && grep -q '^4 reports sent' "$E2E_DIR/send.out" &&
    [ "$got" = "none.faults.test pass.faults.test quar.faults.test rej.faults.test " ]; then
	e2e_ok "report: one run, one report per domain"
else
	e2e_fail "report" "exit $rc, domains: $got; $(cat "$E2E_DIR/send.out")"
fi
i=0
for f in $(faults_reports); do
	i=$((i + 1))
	x=$E2E_DIR/r$i.xml
	if ! faults_report_xml "$f" "$x" 2>"$E2E_DIR/r$i.err" ||
	    ! xmllint --noout --schema "$XSD" "$x" 2>>"$E2E_DIR/r$i.err"; then
		e2e_fail "report $i" "$(tail -3 "$E2E_DIR/r$i.err")"
		continue
	fi
	d=$(xmllint --xpath "string(//*[local-name()='policy_published']/*[local-name()='domain'])" "$x")
	n=$(xmllint --xpath "sum(//*[local-name()='count'])" "$x")
	if [ "$n" = 6 ]; then
		e2e_ok "report $d: valid; 6 messages, 3 through each daemon"
	else
		e2e_fail "report $d" "count $n, want 6"
	fi
done

# ---- cold: daemon B started while PostgreSQL is down ----
# stop_b LABEL: SIGTERM to daemon B; it must exit 0 within 10 s
stop_b() {
	local save=$E2E_MILTER_PID
	kill -TERM "$PID_B"
	E2E_MILTER_PID=$PID_B
	e2e_milter_wait_exit "$1"
	E2E_MILTER_PID=$save
	E2E_PIDS=${E2E_PIDS/$PID_B /}
}
faults_pg_stop fast || e2e_die "pg_ctl stop failed"
stop_b "cold: daemon B stops"
"$AM_BIN" -f -c "$E2E_DIR/b.conf" >>"$E2E_DIR/authmilter-b.log" 2>&1 &
PID_B=$!
E2E_PIDS="$PID_B $E2E_PIDS"
if e2e_poll 10 e2e_tcp_open "$MILTER_B"; then
	e2e_ok "cold: daemon B starts while the store is down"
else
	e2e_fail "cold: daemon B" "not listening: $(tail -2 "$E2E_DIR/authmilter-b.log")"
fi
E2E_SMTP_PORT=$SMTP_B
faults_send cold-b
E2E_SMTP_PORT=$SMTP_A
faults_same_verdicts cold-b up-a
expect_dropped "cold: daemon B" "$STATS_B" 4
if grep -q 'DMARC reports: report: ReportStore does not answer (.*): started without it' \
    "$E2E_DIR/authmilter-b.log"; then
	e2e_ok "cold: the start without the store is logged"
else
	e2e_fail "cold: log" "$(grep 'DMARC reports' "$E2E_DIR/authmilter-b.log" | tail -3)"
fi
faults_pg_start || e2e_die "pg_ctl start: $(tail -5 "$FAULTS_PG/pg.log")"
n0=$(rows)
E2E_SMTP_PORT=$SMTP_B
faults_send warm-b
E2E_SMTP_PORT=$SMTP_A
faults_same_verdicts warm-b up-a
expect_rows "warm: the store opened at the first batch after it answers" $((n0 + 4))

# ---- hung: the store stops answering; a stop must not wait for it ----
pg_pids() {
	local m
	m=$(head -1 "$FAULTS_PG/data/postmaster.pid")
	echo "$m $(ps -o pid= --ppid "$m")"
}
PG_FROZEN=$(pg_pids)
kill -STOP $PG_FROZEN
send_both hung
faults_same_verdicts hung-a up-a
faults_same_verdicts hung-b up-a
stop_b "hung: daemon B stops"
if grep -q 'DMARC reports: report: [1-4] rows not written at stop' "$E2E_DIR/authmilter-b.log"; then
	e2e_ok "hung: the rows left unwritten are logged: $(grep -o '[0-9]* rows not written at stop: [^;]*' "$E2E_DIR/authmilter-b.log" | tail -1)"
else
	e2e_fail "hung: log" "$(grep 'DMARC reports' "$E2E_DIR/authmilter-b.log" | tail -3)"
fi
kill -CONT $PG_FROZEN
e2e_sanitizer_check "daemon B log" "$E2E_DIR/authmilter-b.log"
e2e_finish
