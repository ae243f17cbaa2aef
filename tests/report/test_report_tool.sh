#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_report_tool.sh: authmilter-report on a real SQLite store.
#
# Rows are written with the sqlite3 shell into the schema the tool creates
# (the daemon does not record rows yet); mail goes to a stand-in for
# sendmail that keeps its argv and the message (the end-to-end run through
# Postfix is a later test). DNS is a closed port on 127.0.0.1, so the one
# external rua destination is a DNS failure and must be retried, never
# refused. Checks: --list shows closed periods only, with counts; --print
# writes XML that validates against rfc9990.xsd; a failing sendmail marks
# nothing; a good run sends one message per report with the Subject of
# RFC 9990 s.3.5.2, the file name ABNF and one Report-ID in all three
# places; a second run sends nothing again; old rows are purged; without
# ReportStore the tool says reporting is off.
# Needs sqlite3, xmllint (libxml2-utils), python3, flock (util-linux).
set -u
B=${AM_TOP_BUILDDIR:?}/milter/authmilter-report
XSD=${AM_CORPUS:?}/dmarc-reports/rfc9990.xsd
W=$(mktemp -d /tmp/am-report-tool-XXXXXX)
trap 'rm -rf "$W"' EXIT
fails=0
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1: $2"; fails=$((fails + 1)); }
for p in sqlite3 xmllint python3 flock; do
	command -v $p >/dev/null || { echo "FAIL - $p not installed"; exit 1; }
done
[ -x "$B" ] || { echo "FAIL - not built: $B"; exit 1; }
[ -r "$XSD" ] || { echo "FAIL - no schema: $XSD"; exit 1; }

# a sendmail stand-in: argv and message of each call into $W/out/N.*
mkdir "$W/out"
cat >"$W/sendmail" <<EOF
#!/bin/sh
n=\$(ls "$W/out" | grep -c '\.args\$')
printf '%s\n' "\$@" >"$W/out/\$n.args"
cat >"$W/out/\$n.eml"
exit \$(cat "$W/sendmail.rc" 2>/dev/null || echo 0)
EOF
chmod +x "$W/sendmail"

cat >"$W/a.conf" <<EOF
Syslog no
DMARCMode rfc7489
DNSServer 127.0.0.1@1
DNSTimeout 200ms
DNSRetries 1
ReportStore sqlite:$W/r.db
ReportOrgName Test Receiver <&>
ReportEmail dmarc-reports@mx.test.example
ReportSendmail $W/sendmail -oi
EOF

now=$(date +%s)
today=$((now - now % 86400))
d2=$((today - 2 * 86400))
d1=$((today - 86400))

"$B" -c "$W/a.conf" --list >"$W/list0" 2>&1 && [ ! -s "$W/list0" ] &&
	ok "--list on a new store: creates it, lists nothing" ||
	bad "--list on a new store" "$(cat "$W/list0")"

# row TIME IP DOMAIN FROM RUA DISPOSITION
row() {
	sqlite3 "${DB:-$W/r.db}" "INSERT INTO report_row (time, source_ip,
	 policy_domain, header_from, envelope_from, p, sp, np, adkim, aspf,
	 testing, discovery, rua, ruf, dmarc, dkim_aligned, spf_aligned,
	 disposition, reasons, dkim, spf_domain, spf_scope, spf_result)
	 VALUES ($1, '$2', '$3', '$4', '$4', 'reject', '', '', 'r', 'r', 'n',
	 'psl', '$5' || char(10), '', 'fail', 'fail', 'fail', '$6', '',
	 '$4' || char(9) || 's1' || char(9) || 'fail' || char(9) ||
	 'body hash mismatch' || char(10), '$4', 'mfrom', 'softfail')"
}
row $((d2 + 10)) 192.0.2.1 example.com example.com mailto:dmarc@example.com reject
row $((d2 + 20)) 192.0.2.1 example.com example.com mailto:dmarc@example.com reject
row $((d2 + 30)) 2001:db8::7 example.com sub.example.com 'mailto:dmarc@example.com!10m' reject
row $((d1 + 5)) 192.0.2.1 example.com example.com mailto:dmarc@example.com reject
row $((d2 + 40)) 192.0.2.9 ext.example.org ext.example.org mailto:agg@reports.example.net none
row $((d2 + 50)) 192.0.2.9 norua.example.com norua.example.com https://example.com/x none
row $((today + 1)) 192.0.2.1 example.com example.com mailto:dmarc@example.com reject
row $((today - 40 * 86400)) 192.0.2.1 old.example old.example mailto:dmarc@old.example none

"$B" -c "$W/a.conf" --list >"$W/list1" 2>&1
want="example.com $(date -u -d @$d2 +%FT%TZ) $(date -u -d @$((d1 - 1)) +%FT%TZ) 3
example.com $(date -u -d @$d1 +%FT%TZ) $(date -u -d @$((today - 1)) +%FT%TZ) 1
ext.example.org $(date -u -d @$d2 +%FT%TZ) $(date -u -d @$((d1 - 1)) +%FT%TZ) 1
norua.example.com $(date -u -d @$d2 +%FT%TZ) $(date -u -d @$((d1 - 1)) +%FT%TZ) 1
old.example"
if [ "$(cut -d' ' -f1-4 "$W/list1" | sed 's/^old.example .*/old.example/')" = "$want" ]; then
	ok "--list: closed periods per domain with counts, not today's"
else
	bad "--list" "got: $(cat "$W/list1") want: $want"
fi

# ReportPeriod hour: the same rows in hours (day -2 has rows at 00:00)
{ cat "$W/a.conf"; echo "ReportPeriod hour"; } >"$W/h.conf"
if "$B" -c "$W/h.conf" --list >"$W/listh" 2>&1 &&
    grep -q "^example.com $(date -u -d @$d2 +%FT%TZ) $(date -u -d @$((d2 + 3599)) +%FT%TZ) 3$" "$W/listh" &&
    grep -q "^example.com $(date -u -d @$d1 +%FT%TZ) $(date -u -d @$((d1 + 3599)) +%FT%TZ) 1$" "$W/listh"; then
	ok "ReportPeriod hour: one period per hour"
else
	bad "ReportPeriod hour" "$(cat "$W/listh")"
fi

if "$B" -c "$W/a.conf" --print example.com >"$W/p.xml" 2>"$W/p.err" &&
    xmllint --noout --schema "$XSD" "$W/p.xml" 2>"$W/p.lint"; then
	n=$(xmllint --xpath "sum(//*[local-name()='count'])" "$W/p.xml")
	[ "$n" = 3 ] && ok "--print: oldest period, valid XML, 3 messages" ||
		bad "--print count" "$n"
else
	bad "--print" "$(cat "$W/p.err" "$W/p.lint")"
fi

# a run while another holds the store's lock: refused, nothing sent
if flock -n "$W/r.db.lock" "$B" -c "$W/a.conf" >"$W/lk" 2>&1; then
	bad "lock" "ran while the lock was held: $(cat "$W/lk")"
elif grep -q "another authmilter-report run" "$W/lk" &&
    [ -z "$(ls "$W/out")" ]; then
	ok "a second sending run on a locked store exits, sends nothing"
else
	bad "lock" "$(cat "$W/lk")"
fi

# a sendmail that fails: nothing is marked sent
echo 75 >"$W/sendmail.rc"
"$B" -c "$W/a.conf" >"$W/s0" 2>&1
rc=$?
"$B" -c "$W/a.conf" --list >"$W/list2" 2>&1
if [ $rc = 1 ] && grep -q "exited with status 75" "$W/s0" &&
    [ "$(grep -c '^example.com ' "$W/list2")" = 2 ]; then
	ok "a failing sendmail: exit 1, periods kept for the next run"
else
	bad "failing sendmail" "rc $rc: $(cat "$W/s0" "$W/list2")"
fi
rm -f "$W"/out/*

echo 0 >"$W/sendmail.rc"
"$B" -c "$W/a.conf" >"$W/s1" 2>&1
rc=$?
nmail=$(ls "$W/out" | grep -c '\.eml$')
# example.com x2 sent; ext.example.org kept (DNS); norua marked
if [ $rc = 1 ] && [ "$nmail" = 2 ] && grep -q "2 reports sent" "$W/s1" &&
    grep -q "ext.example.org: rua mailto:agg@reports.example.net: .*(will retry)" "$W/s1" &&
    grep -q "1 kept for the next run" "$W/s1"; then
	ok "send: 2 reports mailed, the DNS failure kept, no-rua period settled"
else
	bad "send" "rc $rc, $nmail mails: $(cat "$W/s1")"
fi
if [ "$(cat "$W/out/0.args" | tr '\n' ' ')" = "-oi -f dmarc-reports@mx.test.example -- dmarc@example.com " ]; then
	ok "sendmail argv: ReportSendmail + -f ReportEmail -- rcpt"
else
	bad "sendmail argv" "$(cat "$W/out/0.args" | tr '\n' ' ')"
fi

# the message: Subject grammar, file name ABNF, one Report-ID, valid XML
cat >"$W/check.py" <<'EOF'
import email, gzip, re, subprocess, sys
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'))
subj = re.sub(r'\s+', ' ', msg['Subject'])
m = re.fullmatch(r'Report Domain: (\S+) Submitter: (\S+) Report-ID: ([0-9a-f]{32})', subj)
assert m, 'Subject: %r' % subj
dom, sub, rid = m.groups()
assert dom == 'example.com' and sub == 'mx.test.example', subj
parts = [p for p in msg.walk() if p.get_content_type() == 'application/gzip']
assert len(parts) == 1, 'gzip parts: %d' % len(parts)
fn = parts[0].get_filename()
f = re.fullmatch(r'mx\.test\.example!example\.com!([0-9]+)!([0-9]+)!([0-9A-Za-z]+)\.xml\.gz', fn)
assert f, 'filename %r' % fn
assert f.group(3) == rid, 'filename id %s, subject id %s' % (f.group(3), rid)
xml = gzip.decompress(parts[0].get_payload(decode=True))
open(sys.argv[2], 'wb').write(xml)
x = re.search(rb'<report_id>([^<]*)</report_id>', xml).group(1).decode()
assert x == rid, 'XML report_id %s, subject %s' % (x, rid)
b = re.search(rb'<begin>([0-9]+)</begin>', xml).group(1).decode()
e = re.search(rb'<end>([0-9]+)</end>', xml).group(1).decode()
assert (b, e) == f.group(1, 2), 'period %s-%s vs file name %s' % (b, e, fn)
assert msg['From'] == 'dmarc-reports@mx.test.example'
print(rid)
EOF
for i in 0 1; do
	if python3 "$W/check.py" "$W/out/$i.eml" "$W/r$i.xml" >"$W/c$i" 2>&1 &&
	    xmllint --noout --schema "$XSD" "$W/r$i.xml" 2>"$W/l$i"; then
		ok "message $i: Subject, file name and XML share Report-ID $(cat "$W/c$i"); XML valid"
	else
		bad "message $i" "$(cat "$W/c$i" "$W/l$i" 2>/dev/null | tail -5)"
	fi
done

# a second run: nothing sent twice
rm -f "$W"/out/*
"$B" -c "$W/a.conf" >"$W/s2" 2>&1
"$B" -c "$W/a.conf" --list >"$W/list3" 2>&1
if [ "$(ls "$W/out" | grep -c '\.eml$')" = 0 ] && grep -q "0 reports sent" "$W/s2" &&
    [ "$(cut -d' ' -f1 "$W/list3" | tr '\n' ' ')" = "ext.example.org " ]; then
	ok "second run: nothing sent twice; only the DNS-failed report pending"
else
	bad "second run" "$(cat "$W/s2" "$W/list3")"
fi

n=$(sqlite3 "$W/r.db" "SELECT count(*) FROM report_row WHERE policy_domain = 'old.example'")
[ "$n" = 0 ] && ok "rows older than ReportRetention purged" ||
	bad "purge" "$n old rows left"
n=$(sqlite3 "$W/r.db" "SELECT count(*) FROM report_row WHERE time >= $today")
[ "$n" = 1 ] && ok "the open period's row kept" || bad "open period row" "$n"

# a run killed half way (between its two reports): the next run sends
# only the report that was not yet marked sent
sed "s|^ReportStore .*|ReportStore sqlite:$W/k.db|; s|^ReportSendmail .*|ReportSendmail $W/sendmail-kill|" \
	"$W/a.conf" >"$W/k.conf"
cat >"$W/sendmail-kill" <<EOF
#!/bin/sh
# the second message: kill the report run before it is accepted
if [ -e "$W/killed" ]; then exec "$W/sendmail" "\$@"; fi
if ls "$W/out" | grep -q eml; then touch "$W/killed"; kill -9 \$PPID; exit 1; fi
exec "$W/sendmail" "\$@"
EOF
chmod +x "$W/sendmail-kill"
rm -f "$W"/out/*
"$B" -c "$W/k.conf" --list >/dev/null 2>&1
DB=$W/k.db row $((d2 + 10)) 192.0.2.1 example.com example.com mailto:dmarc@example.com reject
DB=$W/k.db row $((d1 + 10)) 192.0.2.1 example.com example.com mailto:dmarc@example.com reject
"$B" -c "$W/k.conf" >"$W/k1" 2>&1
rc1=$?
"$B" -c "$W/k.conf" >"$W/k2" 2>&1
rc2=$?
n=$(ls "$W/out" | grep -c '\.eml$')
if [ $rc1 = 137 ] && [ $rc2 = 0 ] && [ "$n" = 2 ] &&
    [ "$(grep -h '^Message-ID' "$W"/out/*.eml | sort -u | wc -l)" = 2 ] &&
    grep -q "1 reports sent" "$W/k2"; then
	ok "a run killed between two reports: the next sends only the other"
else
	bad "killed run" "rc $rc1/$rc2, $n mails: $(cat "$W/k1" "$W/k2")"
fi

grep -v '^Report' "$W/a.conf" >"$W/off.conf"
if "$B" -c "$W/off.conf" >"$W/off" 2>&1 && grep -q "reporting is off" "$W/off"; then
	ok "no ReportStore: reporting is off, exit 0"
else
	bad "reporting off" "$(cat "$W/off")"
fi

echo "$fails failed"
[ $fails = 0 ]
