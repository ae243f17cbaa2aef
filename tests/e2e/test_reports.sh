#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_reports.sh: DMARC aggregate reports end to end (RFC 9990).
#
# The daemon records one row per judged message with a DMARC record
# (ReportStore sqlite) while mail goes through the private Postfix: a mix
# of passing and failing messages of rep.auth.test (p=quarantine, rua at
# rcpt.test, which authorizes it) over IPv4 and IPv6, and of
# norep.auth.test (same rua host, not authorized). The rows are then moved
# into yesterday (a closed UTC day; the test sets the clock that way) and
# authmilter-report runs with the daemon's own configuration, sending
# through Postfix's sendmail into the same private instance. Checks: the
# store holds exactly the messages sent; --list shows both domains; one
# report arrives, for rep.auth.test only, at dmarc@rcpt.test; its Subject,
# attachment name and XML carry one Report-ID; the XML validates against
# the RFC 9990 schema; every count per source and disposition equals what
# was sent; a second run sends nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
e2e_init test_reports
e2e_need sqlite3 xmllint
XSD=$AM_CORPUS/dmarc-reports/rfc9990.xsd
[ -r "$XSD" ] || e2e_die "no schema: $XSD"
auth_dmarc_conf rfc9989 yes
e2e_conf_set ARCMode off
e2e_conf_set ReportStore "sqlite:$E2E_DIR/reports.db"
e2e_conf_set ReportOrgName "authmilter e2e <&>"
e2e_conf_set ReportEmail dmarc-reports@example.test
e2e_conf_set ReportSendmail "/usr/sbin/sendmail -C $E2E_DIR/pf/etc -oi"
auth_start_all
REPORT=${AM_TOP_BUILDDIR:?}/milter/authmilter-report

# case client from/mail-from outcome
CASES="
rep-pass1	$AUTH_C		u@rep.auth.test		deliver
rep-pass2	$AUTH_C		v@rep.auth.test		deliver
rep-v6		2001:db8::10	u@rep.auth.test		deliver
rep-fail	$AUTH_BAD	u@rep.auth.test		hold
norep-fail	$AUTH_BAD	u@norep.auth.test	deliver
"
while read -r c ip from out; do
	[ -n "$c" ] || continue
	auth_msg "$E2E_DIR/$c.eml" "$from"
	e2e_swaks_bg "$c" "$ip" "$AUTH_HELO" "$from" "$E2E_DIR/$c.eml"
done <<<"$CASES"
while read -r c ip from out; do
	[ -n "$c" ] || continue
	e2e_swaks_wait "$c" || continue
	if [ "$out" = deliver ]; then
		e2e_wait_delivered "$c" && e2e_ok "$c: delivered"
	elif auth_held_file "$c" >/dev/null || e2e_poll 10 auth_held_file "$c" >/dev/null; then
		e2e_ok "$c: quarantined"
	else
		e2e_fail "$c" "not on the hold queue"
	fi
done <<<"$CASES"

# the writer commits within a second; wait for the five rows
rows() { sqlite3 "$E2E_DIR/reports.db" "SELECT count(*) FROM report_row" 2>/dev/null; }
if e2e_poll 15 sh -c "[ \"\$(sqlite3 '$E2E_DIR/reports.db' 'SELECT count(*) FROM report_row' 2>/dev/null)\" = 5 ]"; then
	e2e_ok "store: 5 rows recorded"
else
	e2e_fail "store" "$(rows) rows, want 5"
fi
# into yesterday: a closed period
sqlite3 "$E2E_DIR/reports.db" "UPDATE report_row SET time = time - 86400"
"$REPORT" -c "$E2E_CONF" --list >"$E2E_DIR/list.out" 2>&1
if grep -q "rep.auth.test.* 4" "$E2E_DIR/list.out" &&
    grep -q "norep.auth.test.* 1" "$E2E_DIR/list.out"; then
	e2e_ok "--list: both domains with their counts"
else
	e2e_fail "--list" "$(cat "$E2E_DIR/list.out")"
fi
if "$REPORT" -c "$E2E_CONF" >"$E2E_DIR/send.out" 2>&1; then
	e2e_ok "authmilter-report: sent"
else
	e2e_fail "authmilter-report" "exit $?: $(tail -5 "$E2E_DIR/send.out")"
fi
if e2e_poll 20 e2e_delivered_file dmarc@rcpt.test >/dev/null; then
	E2E_FILE=$(e2e_delivered_file dmarc@rcpt.test)
	/usr/bin/python3 - "$E2E_FILE" "$E2E_DIR" <<'PY' >"$E2E_DIR/report.check" 2>&1
import email, gzip, re, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
subj = msg['Subject']
# RFC 9990 s.3.5.2: ridtxt = ("<" ridfmt ">") / ridfmt
m = re.search(r'Report-ID:\s+<?([^\s<>]+?)>?\s*$', subj)
assert m, 'no Report-ID in Subject: %s' % subj
rid = m.group(1)
assert 'Report Domain: rep.auth.test' in subj, subj
parts = [p for p in msg.walk() if p.get_filename()]
assert len(parts) == 1, 'attachments: %d' % len(parts)
name = parts[0].get_filename()
assert name.endswith('.xml.gz') and '!rep.auth.test!' in name, name
assert rid in name, (rid, name)
xml = gzip.decompress(parts[0].get_payload(decode=True))
open(sys.argv[2] + '/report.xml', 'wb').write(xml)
assert ('<report_id>%s</report_id>' % rid).encode() in xml, 'report_id'
import xml.etree.ElementTree as ET
ns = {'d': 'urn:ietf:params:xml:ns:dmarc-2.0'}
root = ET.fromstring(xml)
got = {}
for r in root.findall('d:record', ns):
    ip = r.find('d:row/d:source_ip', ns).text
    n = int(r.find('d:row/d:count', ns).text)
    dis = r.find('d:row/d:policy_evaluated/d:disposition', ns).text
    got[(ip, dis)] = got.get((ip, dis), 0) + n
want = {('192.0.2.10', 'pass'): 2, ('2001:db8::10', 'pass'): 1,
        ('192.0.2.99', 'quarantine'): 1}
assert got == want, 'counts %r, want %r' % (got, want)
print('ok', rid)
PY
	if grep -q '^ok ' "$E2E_DIR/report.check"; then
		e2e_ok "report: Subject, file name and XML agree; counts per row"
	else
		e2e_fail "report" "$(tail -5 "$E2E_DIR/report.check")"
	fi
	if xmllint --noout --schema "$XSD" "$E2E_DIR/report.xml" >"$E2E_DIR/xmllint.out" 2>&1; then
		e2e_ok "report: validates against rfc9990.xsd"
	else
		e2e_fail "xmllint" "$(tail -5 "$E2E_DIR/xmllint.out")"
	fi
else
	e2e_fail "report" "nothing delivered to dmarc@rcpt.test: $(tail -5 "$E2E_DIR/send.out")"
fi
n=$(grep -l -x -F "Delivered-To: dmarc@rcpt.test" "$E2E_DIR"/mail/all/new/* 2>/dev/null | wc -l)
if [ "$n" = 1 ]; then
	e2e_ok "norep.auth.test: not authorized, no report sent"
else
	e2e_fail "norep" "$n reports delivered, want 1"
fi
"$REPORT" -c "$E2E_CONF" >"$E2E_DIR/send2.out" 2>&1
sleep 2
n=$(grep -l -x -F "Delivered-To: dmarc@rcpt.test" "$E2E_DIR"/mail/all/new/* 2>/dev/null | wc -l)
if [ "$n" = 1 ]; then
	e2e_ok "second run: nothing sent twice"
else
	e2e_fail "second run" "$n reports delivered"
fi
e2e_finish
