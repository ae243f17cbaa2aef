#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_report_faults.sh: the SQLite report store failing while mail flows,
# daemon restarts, and an interrupted report run, all through the real
# daemon and the private Postfix (tests/e2e/lib.sh).
#
# The store (ReportStore sqlite:) lives on a 1 MiB tmpfs that the test
# mounts (as root; detached in the EXIT trap). Phases, each one sending
# the four-message mix of lib_faults.sh (pass, p=none fail, quarantine,
# reject of tests/zones/faults.zone):
#  ok       the store works: 4 rows;
#  full     the file system is filled up (a filler file to ENOSPC): the
#           same replies and Authentication-Results as in ok, no row
#           written, authmilter_report_dropped_total (StatsSocket) is 4
#           and the log says why (rate-limited warning);
#  back     the filler removed: the writer commits again, 4 more rows,
#           the drop counter stays 4;
#  stop     SIGTERM right after the mix (clean stop, exit 0 within 10 s),
#           then restart: all 4 rows are there, and 4 more after the next
#           mix (restart). (The writer commits every second and the stop
#           takes longer, so these rows are mostly written before the stop
#           drains the queue: the drain itself is tested by
#           test_report_queue and by test_report_fleet's hung phase.)
#  kill     4 rows committed (waited for), then 4 more messages and
#           SIGKILL at once: the database passes PRAGMA integrity_check,
#           holds every committed row, and the report tool still reads
#           it; the rows queued but not committed may be lost (the
#           count is printed): with a working store, those submitted
#           since the writer's last commit (a second's worth, a batch is
#           at most 500), at worst the whole queue (10000) and the batch
#           in the store's hands;
#  report   all rows moved into yesterday (a closed period); a report run
#           whose sendmail (a wrapper around Postfix's) SIGKILLs the run at
#           the second domain, after the first was sent and marked; a second
#           run sends the rest: every domain's report arrives once, each
#           valid against rfc9990.xsd; a third run sends nothing;
#  dup      the known limit (authmilter-report(8) BUGS): a run killed
#           after Postfix accepted its first report and before the mark
#           commits; the next run sends that report again (same Subject,
#           same Report-ID) and each other one once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
. "$(dirname "$0")/lib_faults.sh"
e2e_init test_report_faults
trap faults_cleanup EXIT
e2e_need sqlite3 xmllint mountpoint
XSD=$AM_CORPUS/dmarc-reports/rfc9990.xsd
[ -r "$XSD" ] || e2e_die "no schema: $XSD"
REPORT=${AM_TOP_BUILDDIR:?}/milter/authmilter-report

FAULTS_MNT=$E2E_DIR/store
mkdir -p "$FAULTS_MNT"
mount -t tmpfs -o size=1m,mode=755 am-faults "$FAULTS_MNT" ||
    e2e_die "cannot mount a tmpfs on $FAULTS_MNT (the test runs as root)"
DB=$FAULTS_MNT/reports.db
STATS_PORT=$(e2e_free_port)
auth_dmarc_conf rfc9989 yes
e2e_conf_set ARCMode off
e2e_conf_set StatsSocket "inet:$STATS_PORT@127.0.0.1"
e2e_conf_set ReportStore "sqlite:$DB"
e2e_conf_set ReportOrgName "authmilter faults"
e2e_conf_set ReportEmail dmarc-reports@example.test
auth_start_all
DROPPED=authmilter_report_dropped_total

rows() { sqlite3 "$DB" "SELECT count(*) FROM report_row" 2>/dev/null; }
rows_are() { [ "$(rows)" = "$1" ]; }
# expect_rows CASE N: the store holds N rows within 15 s
expect_rows() {
	if e2e_poll 15 rows_are "$2"; then
		e2e_ok "$1: $2 rows in the store"
	else
		e2e_fail "$1" "$(rows) rows, want $2"
	fi
}

# ---- ok: the store works ----
faults_send ok
faults_expect_outcomes ok
expect_rows ok 4

# ---- full: the file system of the store is full ----
dd if=/dev/zero of="$FAULTS_MNT/filler" bs=4k count=512 >/dev/null 2>&1
[ "$(df --output=avail -k "$FAULTS_MNT" | tail -1 | tr -d ' ')" = 0 ] ||
    e2e_die "the tmpfs is not full: $(df -k "$FAULTS_MNT" | tail -1)"
faults_send full
faults_same_verdicts full ok
if e2e_poll 15 faults_metric_is "$STATS_PORT" "$DROPPED" 4; then
	e2e_ok "full: $DROPPED is 4"
else
	e2e_fail "full: $DROPPED" "$(faults_metric "$STATS_PORT" "$DROPPED"), want 4"
fi
if grep -q 'DMARC reports: report: dropped 0 rows (queue full), [1-4] rows (store .* failed: sqlite: .*full' \
    "$E2E_DIR/authmilter.log"; then
	e2e_ok "full: the drop is logged with its reason"
else
	e2e_fail "full: log" "$(grep 'DMARC reports' "$E2E_DIR/authmilter.log" | tail -3)"
fi
[ "$(rows)" = 4 ] && e2e_ok "full: no row written" ||
    e2e_fail "full: rows" "$(rows), want 4"

# ---- back: space again ----
rm -f "$FAULTS_MNT/filler"
faults_send back
faults_same_verdicts back ok
expect_rows back 8
faults_metric_is "$STATS_PORT" "$DROPPED" 4 &&
    e2e_ok "back: no more drops" ||
    e2e_fail "back: $DROPPED" "$(faults_metric "$STATS_PORT" "$DROPPED"), want 4"

# ---- stop: SIGTERM drains the queue ----
faults_send stop
faults_same_verdicts stop ok
auth_restart_milter
expect_rows "stop: after SIGTERM and restart" 12
faults_send restart
faults_same_verdicts restart ok
expect_rows restart 16
faults_metric_is "$STATS_PORT" "$DROPPED" 0 &&
    e2e_ok "restart: nothing dropped" ||
    e2e_fail "restart: $DROPPED" "$(faults_metric "$STATS_PORT" "$DROPPED")"

# ---- kill: SIGKILL loses no committed row, corrupts nothing ----
faults_send kill1
expect_rows "kill1: committed" 20
faults_send kill2
kill -9 "$E2E_MILTER_PID"
e2e_wait_gone "$E2E_MILTER_PID"
after=$(rows)
if [ "$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1)" = ok ]; then
	e2e_ok "kill: PRAGMA integrity_check ok"
else
	e2e_fail "kill: integrity" "$(sqlite3 "$DB" 'PRAGMA integrity_check' 2>&1 | head -3)"
fi
if [ -n "$after" ] && [ "$after" -ge 20 ] && [ "$after" -le 24 ]; then
	e2e_ok "kill: the 20 committed rows kept ($((24 - after)) of the 4 queued lost)"
else
	e2e_fail "kill: rows" "$after, want 20 to 24"
fi
if "$REPORT" -c "$E2E_CONF" --list >"$E2E_DIR/kill.list" 2>&1; then
	e2e_ok "kill: the report tool reads the store"
else
	e2e_fail "kill: --list" "$(cat "$E2E_DIR/kill.list")"
fi
e2e_start_milter
faults_send afterkill
faults_same_verdicts afterkill ok
expect_rows afterkill $((after + 4))

# ---- report: a run killed after the first domain ----
sqlite3 "$DB" "UPDATE report_row SET time = time - 86400"
cat >"$E2E_DIR/sendmail-kill" <<EOF
#!/bin/sh
# the first call sends; the second kills the report run (its parent)
if [ -e "$E2E_DIR/killed" ]; then
	exec /usr/sbin/sendmail -C "$E2E_PF_ETC" "\$@"
fi
if [ -e "$E2E_DIR/sent-one" ]; then
	touch "$E2E_DIR/killed"
	kill -9 \$PPID
	exit 75
fi
/usr/sbin/sendmail -C "$E2E_PF_ETC" "\$@" || exit \$?
touch "$E2E_DIR/sent-one"
EOF
chmod 755 "$E2E_DIR/sendmail-kill"
sed "s|^ReportStore .*|&\nReportSendmail $E2E_DIR/sendmail-kill -oi|" \
    "$E2E_CONF" >"$E2E_DIR/report.conf"
"$REPORT" -c "$E2E_DIR/report.conf" --list >"$E2E_DIR/list0" 2>&1
if [ "$(cut -d' ' -f1 "$E2E_DIR/list0" | sort | tr '\n' ' ')" = \
    "none.faults.test pass.faults.test quar.faults.test rej.faults.test " ]; then
	e2e_ok "report: --list shows the four domains"
else
	e2e_fail "report: --list" "$(cat "$E2E_DIR/list0")"
fi
"$REPORT" -c "$E2E_DIR/report.conf" >"$E2E_DIR/send1.out" 2>&1
rc1=$?
e2e_poll 20 sh -c "[ \$(grep -l -x -F 'Delivered-To: $FAULTS_RUA' $E2E_DIR/mail/all/new/* 2>/dev/null | wc -l) -ge 1 ]"
n1=$(faults_reports | wc -l)
if [ "$rc1" = 137 ] && [ -e "$E2E_DIR/killed" ] && [ "$n1" = 1 ]; then
	e2e_ok "report: run 1 killed at the second domain, 1 report delivered"
else
	e2e_fail "report: run 1" "exit $rc1, $n1 reports: $(cat "$E2E_DIR/send1.out")"
fi
"$REPORT" -c "$E2E_DIR/report.conf" >"$E2E_DIR/send2.out" 2>&1
rc2=$?
e2e_poll 20 sh -c "[ \$(grep -l -x -F 'Delivered-To: $FAULTS_RUA' $E2E_DIR/mail/all/new/* 2>/dev/null | wc -l) -ge 4 ]"
got=$(faults_report_domains | tr '\n' ' ')
if [ "$rc2" = 0 ] && grep -q '^3 reports sent' "$E2E_DIR/send2.out" &&
    [ "$got" = "none.faults.test pass.faults.test quar.faults.test rej.faults.test " ]; then
	e2e_ok "report: run 2 sent the other 3; each domain's report arrived once"
else
	e2e_fail "report: run 2" "exit $rc2, domains: $got; $(cat "$E2E_DIR/send2.out")"
fi
i=0
for f in $(faults_reports); do
	i=$((i + 1))
	if faults_report_xml "$f" "$E2E_DIR/r$i.xml" 2>"$E2E_DIR/r$i.err" &&
	    xmllint --noout --schema "$XSD" "$E2E_DIR/r$i.xml" 2>>"$E2E_DIR/r$i.err"; then
		e2e_ok "report $i: validates against rfc9990.xsd"
	else
		e2e_fail "report $i" "$(tail -3 "$E2E_DIR/r$i.err")"
	fi
done
# every committed row is counted once over the four reports
sum=0
for x in "$E2E_DIR"/r*.xml; do
	[ -f "$x" ] || continue
	sum=$((sum + $(xmllint --xpath "sum(//*[local-name()='count'])" "$x")))
done
[ "$sum" = "$(rows)" ] && e2e_ok "report: the counts add up to the $sum rows" ||
    e2e_fail "report: counts" "$sum, want $(rows)"
"$REPORT" -c "$E2E_DIR/report.conf" >"$E2E_DIR/send3.out" 2>&1
sleep 2
n=$(faults_reports | wc -l)
if [ "$n" = 4 ] && grep -q '^0 reports sent' "$E2E_DIR/send3.out"; then
	e2e_ok "report: run 3 sends nothing"
else
	e2e_fail "report: run 3" "$n reports: $(cat "$E2E_DIR/send3.out")"
fi

# ---- dup: the known limit (authmilter-report(8) BUGS) ----
# killed after Postfix accepted the first report, before its mark: that
# one report is sent again by the next run, with the same Report-ID
n0=$(rows)
faults_send dup
faults_same_verdicts dup ok
expect_rows dup $((n0 + 4))
sqlite3 "$DB" "UPDATE report_row SET time = time - 2 * 86400
    WHERE time > CAST(strftime('%s', 'now') AS INTEGER) - 3600"
cat >"$E2E_DIR/sendmail-late" <<EOF
#!/bin/sh
# the first call sends, then kills the report run before it marks
[ -e "$E2E_DIR/killed-late" ] && exec /usr/sbin/sendmail -C "$E2E_PF_ETC" "\$@"
/usr/sbin/sendmail -C "$E2E_PF_ETC" "\$@" || exit \$?
touch "$E2E_DIR/killed-late"
kill -9 \$PPID
EOF
chmod 755 "$E2E_DIR/sendmail-late"
sed "s|sendmail-kill|sendmail-late|" "$E2E_DIR/report.conf" >"$E2E_DIR/late.conf"
faults_reports | sort >"$E2E_DIR/before-dup"
"$REPORT" -c "$E2E_DIR/late.conf" >"$E2E_DIR/late1.out" 2>&1
rc1=$?
"$REPORT" -c "$E2E_DIR/late.conf" >"$E2E_DIR/late2.out" 2>&1
rc2=$?
e2e_poll 20 sh -c "[ \$(grep -l -x -F 'Delivered-To: $FAULTS_RUA' $E2E_DIR/mail/all/new/* 2>/dev/null | wc -l) -ge 9 ]"
faults_reports | sort | comm -13 "$E2E_DIR/before-dup" - >"$E2E_DIR/dup-files"
for f in $(cat "$E2E_DIR/dup-files"); do
	e2e_headers "$f" | sed -n 's/^Subject: //p'
done | sort >"$E2E_DIR/dup-subjects"
twice=$(sed 's/.*Report Domain: \([^ ]*\) .*/\1/' "$E2E_DIR/dup-subjects" | uniq -d)
if [ "$rc1" = 137 ] && [ "$rc2" = 0 ] && [ "$(wc -l <"$E2E_DIR/dup-files")" = 5 ] &&
    [ "$twice" = none.faults.test ] &&
    [ "$(grep -c 'Report Domain: none.faults.test' "$E2E_DIR/dup-subjects")" = 2 ] &&
    [ "$(grep 'Report Domain: none.faults.test' "$E2E_DIR/dup-subjects" | sort -u | wc -l)" = 1 ]; then
	e2e_ok "dup: killed between sending and marking: that report (only) sent twice, same Subject and Report-ID"
else
	e2e_fail "dup" "exit $rc1/$rc2: $(cat "$E2E_DIR/dup-subjects" "$E2E_DIR/late1.out" "$E2E_DIR/late2.out")"
fi
e2e_finish
