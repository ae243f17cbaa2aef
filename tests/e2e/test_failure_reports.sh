#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_failure_reports.sh: DMARC failure reports end to end (RFC 9991).
#
# The daemon (FailureReports yes, ReportStore sqlite) records a failure
# report for each message of failrep.auth.test (fo=1, ruf at rcpt.test
# twice, which authorizes it) and failnorep.auth.test (ruf at the same
# host, not authorized) while mail goes through the private Postfix: one
# message passing SPF aligned but unsigned (fo=1 still asks: DKIM gave no
# aligned pass), one with a failing signature of d=failrep.auth.test, one
# with an 8-bit header field, one with a field named like a MIME boundary
# and one more, all failing SPF, and one of failnorep. Then
# authmilter-report --failures (FailureReportRate 4) sends through
# Postfix's sendmail into the same instance. Checks: --list counts the
# pending entries; exactly four reports arrive at ruf@rcpt.test (the fifth
# is over the rate; the address listed twice gets one each), none for
# failnorep.auth.test; each
# is multipart/report; report-type=feedback-report with the text,
# message/feedback-report and text/rfc822-headers parts, the RFC 6591 and
# RFC 9991 fields right for its message (Identity-Alignment, DKIM-Domain
# and -Selector for the failing aligned signature, Source-IP,
# Original-Mail-From, Reported-Domain), the header fields of the message
# and not its body; a second run sends nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
e2e_init test_failure_reports
e2e_need sqlite3
auth_dmarc_conf rfc9989 yes
e2e_conf_set ARCMode off
e2e_conf_set ReportStore "sqlite:$E2E_DIR/reports.db"
e2e_conf_set ReportOrgName "authmilter e2e"
e2e_conf_set ReportEmail dmarc-reports@example.test
e2e_conf_set ReportSendmail "/usr/sbin/sendmail -C $E2E_DIR/pf/etc -oi"
e2e_conf_set FailureReports yes
e2e_conf_set FailureReportRate 4
auth_start_all
REPORT=${AM_TOP_BUILDDIR:?}/milter/authmilter-report

# case client from sigs
CASES="
fr-pass		$AUTH_C		u@failrep.auth.test	-
fr-badsig	$AUTH_BAD	u@failrep.auth.test	failrep.auth.test/nokey
fr-8bit		$AUTH_BAD	u@failrep.auth.test	-
fr-mime		$AUTH_BAD	u@failrep.auth.test	-
fr-over		$AUTH_BAD	u@failrep.auth.test	-
fnr-fail	$AUTH_BAD	u@failnorep.auth.test	-
"
# one at a time, so the entries are in this order (the rate drops the last)
while read -r c ip from sigs; do
	[ -n "$c" ] || continue
	auth_make "$E2E_DIR/$c.eml" "$from" "$sigs" none
	case $c in
	fr-8bit) extra='X-Note: caf\303\251 \342\202\254\r\n' ;;
	fr-mime) extra='--=_am_fail_1_0: y\r\n' ;;
	*) extra= ;;
	esac
	if [ -n "$extra" ]; then
		{ printf -- "$extra"; cat "$E2E_DIR/$c.eml"; } >"$E2E_DIR/$c.tmp"
		mv "$E2E_DIR/$c.tmp" "$E2E_DIR/$c.eml"
	fi
	e2e_swaks "$c" "$ip" "$AUTH_HELO" "$from" "$E2E_DIR/$c.eml" &&
	    e2e_wait_delivered "$c" && e2e_ok "$c: delivered"
done <<<"$CASES"

pending() { sqlite3 "$E2E_DIR/reports.db" "SELECT count(*) FROM failure_report WHERE sent_at IS NULL" 2>/dev/null; }
if e2e_poll 15 sh -c "[ \"\$(sqlite3 '$E2E_DIR/reports.db' 'SELECT count(*) FROM failure_report' 2>/dev/null)\" = 6 ]"; then
	e2e_ok "store: 6 failure reports recorded"
else
	e2e_fail "store" "$(pending) failure reports, want 6"
fi
n=$(sqlite3 "$E2E_DIR/reports.db" "SELECT count(*) FROM failure_report WHERE headers LIKE '%Test message%'")
if [ "$n" = 0 ]; then
	e2e_ok "store: header blocks only, no body"
else
	e2e_fail "store" "$n entries hold a body"
fi
"$REPORT" -c "$E2E_CONF" --list >"$E2E_DIR/list.out" 2>&1
if grep -qx "failure reports pending: 6" "$E2E_DIR/list.out"; then
	e2e_ok "--list: 6 failure reports pending"
else
	e2e_fail "--list" "$(cat "$E2E_DIR/list.out")"
fi
"$REPORT" -c "$E2E_CONF" --failures >"$E2E_DIR/send.out" 2>&1
if grep -q "^4 failure reports sent, 1 over FailureReportRate, 0 kept" "$E2E_DIR/send.out" &&
    grep -q "failnorep.auth.test: ruf mailto:ruf@rcpt.test refused" "$E2E_DIR/send.out"; then
	e2e_ok "authmilter-report --failures: 4 sent, 1 over the rate, failnorep refused"
else
	e2e_fail "authmilter-report --failures" "$(tail -8 "$E2E_DIR/send.out")"
fi
reports() { grep -l -x -F "Delivered-To: ruf@rcpt.test" "$E2E_DIR"/mail/all/new/* 2>/dev/null; }
e2e_poll 20 sh -c "[ \$(grep -l -x -F 'Delivered-To: ruf@rcpt.test' '$E2E_DIR'/mail/all/new/* 2>/dev/null | wc -l) -ge 4 ]"
sleep 2   # a fourth, if one was wrongly sent, has arrived too
n=$(reports | wc -l)
if [ "$n" = 4 ]; then
	e2e_ok "ruf@rcpt.test: 4 reports (rate 4 per hour; listed twice, sent once)"
else
	e2e_fail "ruf@rcpt.test" "$n reports, want 4"
fi
# shellcheck disable=SC2046
/usr/bin/python3 - "$AUTH_C" "$AUTH_BAD" $(reports) <<'PY' >"$E2E_DIR/check.out" 2>&1
import email, sys
from email import policy
good, bad = sys.argv[1], sys.argv[2]
seen = {}
for path in sys.argv[3:]:
    raw = open(path, 'rb').read()
    assert max(len(l) for l in raw.split(b'\n')) <= 998, path
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == 'multipart/report', msg.get_content_type()
    assert msg.get_param('report-type') == 'feedback-report'
    parts = msg.get_payload()
    types = [p.get_content_type() for p in parts]
    assert types == ['text/plain', 'message/feedback-report',
                     'text/rfc822-headers'], types
    fb = parts[1].get_payload()
    fb = fb[0] if isinstance(fb, list) else email.message_from_string(fb)
    f = {k: ' '.join(str(v).split()) for k, v in fb.items()}
    for k, v in (('Feedback-Type', 'auth-failure'), ('Version', '1'),
                 ('Auth-Failure', 'dmarc'),
                 ('Reported-Domain', 'failrep.auth.test'),
                 ('Original-Mail-From', '<u@failrep.auth.test>'),
                 ('Delivery-Result', 'delivered')):
        assert f.get(k) == v, (path, k, f.get(k))
    assert 'dmarc=' in f['Authentication-Results'], f
    assert 'User-Agent' in f and 'Arrival-Date' in f, f
    hdrs = parts[2].get_payload(decode=True).decode('utf-8')
    assert 'Test message' not in hdrs, 'a body in ' + path
    subj = [l for l in hdrs.splitlines() if l.startswith('Subject: ')]
    assert len(subj) == 1, hdrs
    case = subj[0].split()[2]
    seen[case] = 1
    assert 'From: <u@failrep.auth.test>' in hdrs, hdrs
    if case == 'fr-pass':
        assert f['Identity-Alignment'] == 'dkim', f
        assert f['Source-IP'] == good, f
        assert 'SPF-DNS' not in f and 'DKIM-Domain' not in f, f
    else:
        assert f['Identity-Alignment'] == 'dkim, spf', f
        assert f['Source-IP'] == bad, f
        assert f['SPF-DNS'].startswith('txt : failrep.auth.test : "v=spf1 '), f
    if case == 'fr-badsig':
        assert f.get('DKIM-Domain') == 'failrep.auth.test', f
        assert f.get('DKIM-Selector') == 'nokey', f
        assert f.get('DKIM-Identity') == '@failrep.auth.test', f
    else:
        assert 'DKIM-Domain' not in f, f
    if case == 'fr-8bit':
        assert parts[2]['Content-Transfer-Encoding'] == 'quoted-printable'
        assert 'X-Note: caf\u00e9 \u20ac' in hdrs, hdrs
    if case == 'fr-mime':
        assert '\n--=_am_fail_1_0: y\n' in '\n' + hdrs, hdrs
assert sorted(seen) == ['fr-8bit', 'fr-badsig', 'fr-mime', 'fr-pass'], sorted(seen)
print('ok')
PY
if grep -qx ok "$E2E_DIR/check.out"; then
	e2e_ok "reports: AFRF parts and fields right per message, headers only"
else
	e2e_fail "reports" "$(tail -5 "$E2E_DIR/check.out")"
fi
if [ "$(pending)" = 0 ]; then
	e2e_ok "store: every entry settled (sent, over the rate, refused)"
else
	e2e_fail "store" "$(pending) entries still pending"
fi
"$REPORT" -c "$E2E_CONF" --failures >"$E2E_DIR/send2.out" 2>&1
sleep 2
n=$(reports | wc -l)
if [ "$n" = 4 ] && grep -q "^0 failure reports sent" "$E2E_DIR/send2.out"; then
	e2e_ok "second run: nothing sent twice"
else
	e2e_fail "second run" "$n reports delivered: $(tail -3 "$E2E_DIR/send2.out")"
fi
for f in list.out send.out send2.out; do
	e2e_sanitizer_check "authmilter-report ($f)" "$E2E_DIR/$f"
done
e2e_finish
