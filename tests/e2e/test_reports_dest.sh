#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_reports_dest.sh: DMARC aggregate reports sent over SMTP to the
# private Postfix's smtpd (ReportSMTPHost), external destinations through
# the real DNS path (nsd behind unbound), and hostile input end to end.
#
# Mail goes through Postfix with the daemon recording rows (ReportStore
# sqlite): wrep.auth.test (rua at wild.reports.test, which authorizes
# every domain by a wildcard record *._report._dmarc.wild.reports.test,
# RFC 9990 s.4), nrep.auth.test (rua at closed.reports.test, which
# publishes nothing), and hrep.auth.test, whose messages carry hostile
# DKIM selectors (XML metacharacters, control characters, 1,000 bytes)
# and whose rua lists 2,000 URIs, 10 of them not mailto. The rows are
# moved into yesterday; authmilter-report runs with ReportSMTPHost
# 127.0.0.1:<smtpd port>. Checks: the wildcard-authorized report arrives
# at dmarc@wild.reports.test through smtpd and validates against
# rfc9990.xsd with the right count; nrep's is refused as not authorized
# and nothing reaches closed.reports.test; hrep's report (--print) is
# valid XML with the selectors escaped or cut, and its rua is handled
# within AM_REPORT_URI_COUNT (32) destinations; a dead ReportSMTPHost
# keeps every report for the next run; a bracketless IPv6 ReportSMTPHost is
# refused at start; with its sent mark removed, wrep's report goes again
# over ReportSMTPHost [::1]:port to a second smtpd on ::1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
e2e_init test_reports_dest
e2e_need sqlite3 xmllint
XSD=$AM_CORPUS/dmarc-reports/rfc9990.xsd
[ -r "$XSD" ] || e2e_die "no schema: $XSD"
auth_dmarc_conf rfc9989 no
e2e_conf_set ARCMode off
e2e_conf_set ReportStore "sqlite:$E2E_DIR/reports.db"
e2e_conf_set ReportOrgName "authmilter e2e"
e2e_conf_set ReportEmail dmarc-reports@example.test
e2e_conf_set ReportSubmitter example.test
# the report domains are delivered into the same maildir as rcpt.test
e2e_postfix_main_extra() {
	echo "virtual_mailbox_domains = rcpt.test, wild.reports.test, closed.reports.test"
}
# smtpd on [::1] too, for ReportSMTPHost as an IPv6 literal
E2E_SMTP6_PORT=$(e2e_free_port)
e2e_postfix_master_extra() {
	printf '[::1]:%s inet n - n - - smtpd\n' "$E2E_SMTP6_PORT"
}
auth_start_all
REPORT=${AM_TOP_BUILDDIR:?}/milter/authmilter-report

# Hostile input that real mail can carry. Postfix refuses a MAIL FROM
# domain with '&' or over 255 bytes (501 5.1.7), but takes any HELO name:
# with a null reverse-path SPF checks the HELO identity, so a HELO with
# XML metacharacters, or of 1,000 bytes, is recorded as the SPF domain
# (RFC 7208 s.2.3) of a row of hrep's policy (From: u@hrep.auth.test).
# DKIM selectors with XML metacharacters, control characters or 1,000
# bytes are sent too, in unsigned DKIM-Signature fields: the selector
# syntax of RFC 6376 s.3.1 refuses them, so they must not reach the
# report. What Postfix refuses to carry (control characters in names, a
# 1,000-byte From domain, a bad source IP, a 2,000-URI rua) is recorded
# through the daemon's own row copy and store insert by
# tests/report/hostile_rows.
HELO_META="x&y'z<a>\"q.hrep.auth.test"
HELO_LONG="$(for i in $(seq 16); do printf '%063d.' 0; done)hrep.auth.test"
SEL_META='x<y>&amp;"q'"'"
SEL_CTRL=$(printf 'ab\001\033[31mcd')
SEL_LONG=$(printf 'L%.0s' $(seq 1000))
hostile_msg() {
	local f=$1 sel=$2
	mv "$f" "$f.plain"
	{
		printf 'DKIM-Signature: v=1; a=rsa-sha256; d=hrep.auth.test; s=%s;\r\n' "$sel"
		printf '\th=from; bh=AAAA; b=AAAA\r\n'
		cat "$f.plain"
	} >"$f"
}

# case from mail-from helo selector
CASES="
wrep1	u@wrep.auth.test	u@wrep.auth.test	$AUTH_HELO	-
wrep2	v@wrep.auth.test	v@wrep.auth.test	$AUTH_HELO	-
nrep1	u@nrep.auth.test	u@nrep.auth.test	$AUTH_HELO	-
hmeta	u@hrep.auth.test	<>	$HELO_META	META
hlong	u@hrep.auth.test	<>	$HELO_LONG	LONG
hctrl	u@hrep.auth.test	u@hrep.auth.test	$AUTH_HELO	CTRL
"
while IFS=$'\t' read -r c from mf helo h; do
	[ -n "$c" ] || continue
	auth_msg "$E2E_DIR/$c.eml" "$from"
	case $h in
	META) hostile_msg "$E2E_DIR/$c.eml" "$SEL_META" ;;
	CTRL) hostile_msg "$E2E_DIR/$c.eml" "$SEL_CTRL" ;;
	LONG) hostile_msg "$E2E_DIR/$c.eml" "$SEL_LONG" ;;
	esac
	e2e_swaks_bg "$c" "$AUTH_C" "$helo" "$mf" "$E2E_DIR/$c.eml"
done <<<"$CASES"
while IFS=$'\t' read -r c from mf helo h; do
	[ -n "$c" ] || continue
	e2e_swaks_wait "$c" && e2e_wait_delivered "$c" && e2e_ok "$c: delivered"
done <<<"$CASES"

count() { sqlite3 "$E2E_DIR/reports.db" "SELECT count(*) FROM report_row WHERE policy_domain = '$1'" 2>/dev/null; }
if e2e_poll 15 sh -c "[ \"\$(sqlite3 '$E2E_DIR/reports.db' 'SELECT count(*) FROM report_row' 2>/dev/null)\" = 6 ]"; then
	e2e_ok "store: 6 rows recorded"
else
	e2e_fail "store" "wrep $(count wrep.auth.test) nrep $(count nrep.auth.test) hrep $(count hrep.auth.test), want 2 1 3"
fi
# the rua of hrep as recorded: within the cap of 32 URIs
n=$(sqlite3 "$E2E_DIR/reports.db" "SELECT rua FROM report_row WHERE policy_domain = 'hrep.auth.test' LIMIT 1" | grep -c .)
if [ "$n" -ge 1 ] && [ "$n" -le 32 ]; then
	e2e_ok "hrep: 2,000 rua URIs recorded as $n (cap 32)"
else
	e2e_fail "hrep rua" "$n URIs recorded"
fi
HOSTILE=$AM_TOP_BUILDDIR/tests/report/hostile_rows
if "$HOSTILE" "sqlite:$E2E_DIR/reports.db" hrep.auth.test "$(date +%s)" >"$E2E_DIR/hostile.out" 2>&1; then
	e2e_ok "hostile_rows: 2 rows recorded through the row copy and store"
else
	e2e_fail "hostile_rows" "$(cat "$E2E_DIR/hostile.out")"
fi
sqlite3 "$E2E_DIR/reports.db" "UPDATE report_row SET time = time - 86400"

# hostile selectors: --print gives schema-valid XML, escaped or cut
if "$REPORT" -c "$E2E_CONF" --print hrep.auth.test >"$E2E_DIR/hrep.xml" 2>"$E2E_DIR/hrep.err" &&
    xmllint --noout --schema "$XSD" "$E2E_DIR/hrep.xml" >"$E2E_DIR/hrep.lint" 2>&1; then
	e2e_ok "hrep: --print output validates against rfc9990.xsd"
else
	e2e_fail "hrep --print" "$(tail -3 "$E2E_DIR/hrep.err" "$E2E_DIR/hrep.lint")"
fi
/usr/bin/python3 - "$E2E_DIR/hrep.xml" "$HELO_META" <<'PY' >"$E2E_DIR/hrep.check" 2>&1
import sys
import xml.etree.ElementTree as ET
d = '{urn:ietf:params:xml:ns:dmarc-2.0}'
raw = open(sys.argv[1], 'rb').read()
root = ET.fromstring(raw)
spf = [e.findtext(d + 'domain') or ''
       for e in root.findall('.//%sauth_results/%sspf' % (d, d))]
# the HELO name with < > & ' " round-trips through the escaping
assert sys.argv[2] in spf, 'metacharacter HELO not round-tripped: %r' % spf
assert b'x&amp;y' in raw and b'&lt;a&gt;' in raw, 'not escaped'
# no name over 253 characters, no selector over 64 (a control character
# counts as one: it becomes U+FFFD), no control character
for tag, cap in (('domain', 253), ('envelope_from', 253),
                 ('header_from', 253), ('selector', 64)):
    for e in root.iter(d + tag):
        t = e.text or ''
        assert len(t) <= cap, '%s of %d characters' % (tag, len(t))
assert any(len(s) == 253 and s.startswith('000') for s in spf), \
    'the 1,000-byte HELO is not cut to 253: %r' % spf
assert not any(ord(c) < 0x20 and c not in '\t\n\r' for t in root.itertext() for c in t)
assert b'\x01' not in raw and b'\x1b' not in raw, 'raw control bytes in XML'
# the hostile selectors of real mail were refused, not written
sels = [s.text or '' for s in root.iter(d + 'selector')]
assert not [s for s in sels if s.startswith('x<') or s.startswith('LLLL') or
            s.startswith('ab')], 'a hostile selector of mail reached the report: %r' % sels
assert sum(int(c.text) for c in root.iter(d + 'count')) == 5
print('ok', len(spf), len(sels))
PY
if grep -q '^ok ' "$E2E_DIR/hrep.check"; then
	e2e_ok "hrep: HELO with < > & ' \" escaped and back, 1,000 bytes cut to 253, hostile selectors refused, inserted rows clean"
else
	e2e_fail "hrep hostile" "$(tail -3 "$E2E_DIR/hrep.check")"
fi

# a ReportSMTPHost that is not host[:port]: refused before anything is sent
{ cat "$E2E_CONF"; echo "ReportSMTPHost ::1"; } >"$E2E_DIR/badhost.conf"
"$REPORT" -c "$E2E_DIR/badhost.conf" >"$E2E_DIR/badhost.out" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q 'ReportSMTPHost "::1" is not host, host:port' "$E2E_DIR/badhost.out" &&
    [ "$(sqlite3 "$E2E_DIR/reports.db" 'SELECT count(*) FROM report_sent')" = 0 ]; then
	e2e_ok "ReportSMTPHost ::1 (no brackets): refused at start, nothing sent or marked"
else
	e2e_fail "bad ReportSMTPHost" "exit $rc: $(tail -3 "$E2E_DIR/badhost.out")"
fi

# a dead SMTP host: nothing is marked sent
DEAD=$(e2e_free_port)
{ cat "$E2E_CONF"; echo "ReportSMTPHost 127.0.0.1:$DEAD"; echo "ReportSMTPTimeout 2s"; } >"$E2E_DIR/dead.conf"
"$REPORT" -c "$E2E_DIR/dead.conf" >"$E2E_DIR/dead.out" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q "to dmarc@wild.reports.test: connect to 127.0.0.1 port $DEAD: Connection refused" "$E2E_DIR/dead.out" &&
    grep -q "2 kept for the next run" "$E2E_DIR/dead.out"; then
	e2e_ok "ReportSMTPHost down: exit 1, reason logged, wrep and hrep kept"
else
	e2e_fail "dead SMTP host" "exit $rc: $(tail -3 "$E2E_DIR/dead.out")"
fi
# not authorized: refused for good (settled, never retried)
if grep -q "nrep.auth.test: rua mailto:dmarc@closed.reports.test refused: closed.reports.test does not authorize" "$E2E_DIR/dead.out"; then
	e2e_ok "nrep: closed.reports.test does not authorize, refused"
else
	e2e_fail "nrep" "no refusal in: $(grep nrep "$E2E_DIR/dead.out" | head -3)"
fi

# the real run, over SMTP to Postfix's smtpd
{ cat "$E2E_CONF"; echo "ReportSMTPHost 127.0.0.1:$E2E_SMTP_PORT"; } >"$E2E_DIR/smtp.conf"
"$REPORT" -c "$E2E_DIR/smtp.conf" >"$E2E_DIR/send.out" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
	e2e_ok "authmilter-report over SMTP: exit 0"
else
	e2e_fail "authmilter-report over SMTP" "exit $rc: $(tail -5 "$E2E_DIR/send.out")"
fi
n=$(grep -c "^sent hrep.auth.test " "$E2E_DIR/send.out")
s=$(grep -c "hrep.auth.test: rua https://.* skipped" "$E2E_DIR/send.out")
if [ "$n" -ge 1 ] && [ "$n" -le 32 ] && [ "$s" -le 32 ]; then
	e2e_ok "hrep: sent to $n addresses, $s non-mailto URIs skipped (cap 32)"
else
	e2e_fail "hrep send" "$n sent, $s skipped"
fi
if e2e_poll 20 e2e_delivered_file dmarc@wild.reports.test >/dev/null; then
	E2E_FILE=$(e2e_delivered_file dmarc@wild.reports.test)
	# through smtpd: Postfix's Received names the ESMTP session from us
	if grep -q "^Received: from example.test (.*\[127.0.0.1\])" "$E2E_FILE"; then
		e2e_ok "wrep: report arrived at dmarc@wild.reports.test through smtpd (EHLO example.test)"
	else
		e2e_fail "wrep Received" "$(grep -m1 -A1 '^Received:' "$E2E_FILE")"
	fi
	/usr/bin/python3 - "$E2E_FILE" "$E2E_DIR" <<'PY' >"$E2E_DIR/wrep.check" 2>&1
import email, gzip, sys
from email import policy
import xml.etree.ElementTree as ET
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
assert 'Report Domain: wrep.auth.test' in msg['Subject'], msg['Subject']
parts = [p for p in msg.walk() if p.get_filename()]
assert len(parts) == 1
xml = gzip.decompress(parts[0].get_payload(decode=True))
open(sys.argv[2] + '/wrep.xml', 'wb').write(xml)
ns = {'d': 'urn:ietf:params:xml:ns:dmarc-2.0'}
root = ET.fromstring(xml)
n = sum(int(c.text) for c in root.iter('{%s}count' % ns['d']))
assert n == 2, 'count %d, want 2' % n
print('ok')
PY
	if grep -q '^ok' "$E2E_DIR/wrep.check"; then
		e2e_ok "wrep: one report for wrep.auth.test, 2 messages"
	else
		e2e_fail "wrep report" "$(tail -3 "$E2E_DIR/wrep.check")"
	fi
	if xmllint --noout --schema "$XSD" "$E2E_DIR/wrep.xml" >"$E2E_DIR/wrep.lint" 2>&1; then
		e2e_ok "wrep: validates against rfc9990.xsd"
	else
		e2e_fail "wrep xmllint" "$(tail -3 "$E2E_DIR/wrep.lint")"
	fi
else
	e2e_fail "wrep" "nothing delivered to dmarc@wild.reports.test: $(tail -5 "$E2E_DIR/send.out")"
fi
# the same report again over IPv6 ([::1]): its sent mark removed, as if
# the first run had been cut before marking; same Report-ID
sqlite3 "$E2E_DIR/reports.db" "DELETE FROM report_sent WHERE policy_domain = 'wrep.auth.test'"
{ cat "$E2E_CONF"; echo "ReportSMTPHost [::1]:$E2E_SMTP6_PORT"; } >"$E2E_DIR/smtp6.conf"
"$REPORT" -c "$E2E_DIR/smtp6.conf" >"$E2E_DIR/send6.out" 2>&1
rc=$?
v6() { grep -l -x -F "Delivered-To: dmarc@wild.reports.test" "$E2E_DIR"/mail/all/new/* 2>/dev/null |
	xargs -r grep -l "^Received: from example.test (.*\[IPv6:::1\])" | head -1 | grep .; }
if [ "$rc" = 0 ] && grep -q "^sent wrep.auth.test " "$E2E_DIR/send6.out" && e2e_poll 20 v6 >/dev/null; then
	e2e_ok "wrep: sent again over ReportSMTPHost [::1]:port, arrived through smtpd on ::1"
else
	e2e_fail "wrep over IPv6" "exit $rc: $(tail -3 "$E2E_DIR/send6.out")"
fi
sleep 2
if ! e2e_delivered_file dmarc@closed.reports.test >/dev/null; then
	e2e_ok "nrep: nothing delivered to closed.reports.test"
else
	e2e_fail "nrep" "a report reached dmarc@closed.reports.test"
fi
e2e_finish
