#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_sendmail.sh: authmilter behind a real Sendmail (Debian's sendmail-bin,
# unpacked privately: tests/sendmail/lib.sh), SMTP clients on real loopback
# addresses (Sendmail has no XCLIENT).
#
# Cases (each result line is "PASS: CASE: what" or "FAIL: ..."):
#   pass        SPF-authorized client: delivered, our A-R (our authserv-id)
#               at the top with spf=pass (RFC 7208 s.2.6.1, RFC 8601 s.2.7.2);
#               forged A-R headers with our authserv-id or alias removed,
#               another server's kept (RFC 8601 s.5).
#   fail        unauthorized client: delivered with spf=fail (no DMARC
#               record, so no policy applies).
#   header      our A-R exactly once, first header field, folded with
#               tabs as the engine folds it (RFC 5322 s.2.2.3).
#   trusted     a client in TrustedNetworks: not judged, forged A-R removed.
#   dmarc-reject  From a p=reject domain, SPF fail, no DKIM: Sendmail's SMTP
#               client gets 550 5.7.1 at the end of DATA (RFC 9989 s.4.7,
#               `DMARCEnforce on`), nothing is delivered.
#   dmarc-aligned the same domain from the authorized client: delivered,
#               dmarc=pass.
#   negotiate   the milter negotiated with Sendmail (protocol 6, header
#               leading space), no error or warning in the daemon's log,
#               every accepted message logged under Sendmail's queue id.
#   check       `authmilter --check` gives byte for byte the A-R header that
#               the daemon added through Sendmail, and action accept, for
#               each delivered case; for dmarc-reject, the very reply the
#               SMTP client got.
#   milter-down the daemon stopped: Sendmail tempfails (F=T), 4xx.
# The dmarc-* cases fail while the daemon does not accept `DMARCMode
# rfc9989` and `DMARCEnforce on` (the rest then runs without them).
. "$(dirname "$0")/lib.sh"
sm_init test_sendmail
e2e_conf_set TrustedNetworks 127.0.0.23/32
SM_IP_TRUSTED=127.0.0.23

sm_need
sm_fetch
e2e_start_dns
# ---- DMARC keywords: known to the daemon? (else the dmarc cases fail) ----
e2e_conf_set DMARCMode rfc9989
e2e_conf_set DMARCEnforce on
e2e_write_conf
if "$AM_BIN" -n -c "$E2E_CONF" >"$E2E_DIR/dmarc-probe.out" 2>&1; then
	SM_DMARC_ERR=
else
	SM_DMARC_ERR=$(head -2 "$E2E_DIR/dmarc-probe.out" | tr '\n' ' ')
	e2e_conf_set DMARCMode ""
	e2e_conf_set DMARCEnforce ""
fi
e2e_start_milter
sm_start

FORGED_OURS="Authentication-Results: $E2E_AUTHSERV; spf=pass smtp.mailfrom=forged.example"
FORGED_ALIAS="Authentication-Results: $E2E_ALIAS; dkim=pass header.d=forged.example"
OTHER="Authentication-Results: other.example.test; spf=fail smtp.mailfrom=other.example"
AS_RE=${E2E_AUTHSERV//./\\.}

# case		client		mail from		forged A-R
CASES="
pass		$SM_IP_PASS	u@pass.sendmail.test	yes
fail		$SM_IP_FAIL	u@fail.sendmail.test	no
trusted		$SM_IP_TRUSTED	u@fail.sendmail.test	yes
dmarc-aligned	$SM_IP_PASS	u@reject.sendmail.test	no
"
while read -r c ip from forged; do
	[ -n "$c" ] || continue
	if [ "$forged" = yes ]; then
		e2e_msg "$E2E_DIR/$c.eml" "$from" "$FORGED_OURS" "$OTHER" \
		    "$FORGED_ALIAS"
	else
		e2e_msg "$E2E_DIR/$c.eml" "$from"
	fi
	sm_swaks "$c" "$ip" "$SM_HELO" "$from" "$E2E_DIR/$c.eml"
done <<EOF
$CASES
EOF

# ---- the DMARC reject: 550 5.7.1 to the client, nothing delivered ----
e2e_msg "$E2E_DIR/dmarc-reject.eml" u@reject.sendmail.test
sm_swaks_run dmarc-reject "$SM_IP_FAIL" "$SM_HELO" u@reject.sendmail.test \
    "$E2E_DIR/dmarc-reject.eml"
if [ -n "$SM_DMARC_ERR" ]; then
	e2e_fail "dmarc-reject" "the daemon does not take DMARCMode rfc9989 / DMARCEnforce on: $SM_DMARC_ERR"
elif grep -q '^<\*\* *550 5\.7\.1 ' "$E2E_DIR/swaks.dmarc-reject"; then
	e2e_ok "dmarc-reject: 550 5.7.1 at the client"
else
	e2e_fail "dmarc-reject" "no 550 5.7.1 in the transcript; server said: $(grep -E '^<(-|\*\*) +[0-9]{3} ' "$E2E_DIR/swaks.dmarc-reject" | tail -2 | tr '\n' ' ')"
fi

# spf_re RESULT PROP VALUE: our A-R has RESULT for smtp.PROP=VALUE.
spf_re() {
	echo "^Authentication-Results: ${AS_RE};.*spf=$1( \([^;]*\))? smtp\.$2=${3//./\\.}(;|$)"
}

# expect_one_ar CASE FILE: exactly one A-R header carries our authserv-id.
expect_one_ar() {
	local n
	n=$(e2e_our_ar "$2" | wc -l)
	if [ "$n" = 1 ]; then
		e2e_ok "$1: one A-R of ours"
	else
		e2e_fail "$1: one A-R of ours" "got $n"
	fi
}

# expect_top CASE FILE: the first header field is our A-R.
expect_top() {
	local first
	first=$(e2e_headers "$2" | head -1)
	case $first in
	"Authentication-Results: $E2E_AUTHSERV;"*) e2e_ok "$1: A-R at the top" ;;
	*) e2e_fail "$1: A-R at the top" "first header: $first" ;;
	esac
}

# expect_folding CASE FILE: "Authentication-Results: ID;" then one method a
# line, each continuation line a tab and text, no trailing white space,
# at least one continuation (the check cannot pass on an unfolded header).
expect_folding() {
	local raw bad
	raw=$(e2e_our_ar_raw "$2")
	bad=$(printf '%s\n' "$raw" | awk -v id="$E2E_AUTHSERV" '
		NR == 1 && $0 != "Authentication-Results: " id ";" { print "line 1: " $0 }
		NR > 1 && $0 !~ /^\t[^ \t]/ { print "line " NR ": " $0 }
		/[ \t]$/ { print "trailing white space, line " NR }
		END { if (NR < 2) print "not folded (" NR " line)" }')
	if [ -z "$bad" ]; then
		e2e_ok "$1: folded with tabs"
	else
		e2e_fail "$1: folded with tabs" "$bad"
		printf '%s\n' "$raw" | cat -A | sed 's/^/	/'
	fi
}

# ---- pass: spf=pass, forged headers ----
if sm_wait_delivered pass; then
	f=$E2E_FILE
	expect_header_match "pass: spf=pass" "$f" \
	    "$(spf_re pass mailfrom pass.sendmail.test)"
	expect_header_match "pass: helo" "$f" \
	    "$(spf_re pass helo "$SM_HELO")"
	expect_no_header_match "pass: forged ours removed" "$f" 'forged\.example'
	expect_no_header_match "pass: forged alias removed" "$f" \
	    "^Authentication-Results:[[:space:]]*${E2E_ALIAS//./\\.}"
	expect_header_match "pass: other kept" "$f" "^${OTHER//./\\.}$"
	# ---- header: once, on top, folded ----
	expect_one_ar header "$f"
	expect_top header "$f"
	expect_folding header "$f"
fi

# ---- fail: the other client address ----
if sm_wait_delivered fail; then
	expect_header_match "fail: spf=fail" "$E2E_FILE" \
	    "$(spf_re fail mailfrom fail.sendmail.test)"
	expect_one_ar fail "$E2E_FILE"
	expect_top fail "$E2E_FILE"
	expect_folding fail "$E2E_FILE"
fi

# ---- trusted: not judged, forged removed, other kept ----
if sm_wait_delivered trusted; then
	f=$E2E_FILE
	expect_no_header_match "trusted: no verdict" "$f" \
	    "^Authentication-Results:[[:space:]]*${AS_RE}[[:space:];].*(spf|dkim|dmarc)="
	expect_no_header_match "trusted: forged removed" "$f" 'forged\.example'
	expect_header_match "trusted: other kept" "$f" "^${OTHER//./\\.}$"
fi

# ---- dmarc-aligned: delivered, dmarc=pass ----
if sm_wait_delivered dmarc-aligned; then
	expect_header_match "dmarc-aligned: spf=pass" "$E2E_FILE" \
	    "$(spf_re pass mailfrom reject.sendmail.test)"
	expect_header_match "dmarc-aligned: dmarc=pass" "$E2E_FILE" \
	    "^Authentication-Results: ${AS_RE};.*dmarc=pass( \([^;]*\))? header\.from=reject\.sendmail\.test(;|$)"
fi

# ---- dmarc-reject: nothing delivered, nothing queued (checked last) ----
if sm_delivered_file dmarc-reject >/dev/null; then
	e2e_fail "dmarc-reject: not delivered" "delivered: $(sm_delivered_file dmarc-reject)"
elif grep -l -r -s 'dmarc-reject@rcpt.test' "$SM_DIR/queue" >/dev/null; then
	e2e_fail "dmarc-reject: not delivered" "queued in $SM_DIR/queue"
else
	e2e_ok "dmarc-reject: not delivered"
fi

# ---- negotiate: Sendmail and the daemon agreed, nothing went wrong ----
n=$(grep -c '^milter_negotiate(authmilter): received: version 6, ' \
    "$SM_DIR/debug.log")
sessions=$(ls "$E2E_DIR"/swaks.* | wc -l)
if [ "$n" -ge "$sessions" ]; then
	e2e_ok "negotiate: protocol 6 on each of $sessions connections"
else
	e2e_fail "negotiate" "$n milter negotiations for $sessions SMTP sessions:"
	grep '^milter_negotiate' "$SM_DIR/debug.log" | sed 's/^/	/'
fi
# SMFIP_HDR_LEADSPC (0x100000) agreed: the header text is not re-spaced
pf=$(sed -n 's/^milter_negotiate(authmilter): received: .*pflags \(0x[0-9a-f]*\).*/\1/p' \
    "$SM_DIR/debug.log" | head -1)
if [ -n "$pf" ] && [ $((pf & 0x100000)) != 0 ]; then
	e2e_ok "negotiate: header leading space ($pf)"
else
	e2e_fail "negotiate: header leading space" "pflags '$pf'"
fi
if grep -i -E 'error state|milter_.*(error|timeout|unexpected)' \
    "$SM_DIR/debug.log" >"$E2E_DIR/sm-errors"; then
	e2e_fail "negotiate: Sendmail's milter log" "$(head -3 "$E2E_DIR/sm-errors")"
else
	e2e_ok "negotiate: no milter error in Sendmail's log"
fi
if grep -E 'authmilter\[(error|warning)\]' "$E2E_DIR/authmilter.log" \
    >"$E2E_DIR/am-errors"; then
	e2e_fail "negotiate: daemon log" "$(head -3 "$E2E_DIR/am-errors")"
else
	e2e_ok "negotiate: no error or warning in the daemon's log"
fi
for c in pass fail trusted dmarc-aligned; do
	q=$(sm_qid "$c")
	if [ -n "$q" ] && grep -q "\]: $q " "$E2E_DIR/authmilter.log"; then
		e2e_ok "negotiate: $c logged as $q"
	else
		e2e_fail "negotiate: $c logged" "no daemon log line for queue id '$q'"
	fi
done

# ---- check: --check prints what the daemon did through Sendmail ----
# sm_check CASE IP FROM: runs --check on CASE's message and envelope; our
# A-R header of its output goes to CASE.check, its action line to
# CASE.action. Fails the case and returns 1 if --check does not run.
sm_check() {
	local c=$1 rc
	timeout 60 "$AM_BIN" -c "$E2E_CONF" --check "$E2E_DIR/$c.eml" \
	    --client-ip "$2" --helo "$SM_HELO" --mail-from "$3" \
	    --rcpt "$c@rcpt.test" >"$E2E_DIR/$c.out" 2>"$E2E_DIR/$c.err"
	rc=$?
	e2e_sanitizer_check "check: $c" "$E2E_DIR/$c.err"
	if [ $rc != 0 ]; then
		e2e_fail "check: $c" "--check exited $rc: $(head -3 "$E2E_DIR/$c.err")"
		return 1
	fi
	# --check prints notes too ("# remove ...", "action: ..."): only our
	# A-R header and its continuation lines are compared
	e2e_our_ar_raw "$E2E_DIR/$c.out" >"$E2E_DIR/$c.check"
	tr -d '\r' <"$E2E_DIR/$c.out" | sed -n 's/^action: //p' >"$E2E_DIR/$c.action"
}

while read -r c ip from forged; do
	[ -n "$c" ] || continue
	f=$(sm_delivered_file "$c") || continue
	e2e_our_ar_raw "$f" >"$E2E_DIR/$c.daemon"
	sm_check "$c" "$ip" "$from" || continue
	if [ "$c" != trusted ] && [ ! -s "$E2E_DIR/$c.daemon" ]; then
		e2e_fail "check: $c" "the daemon added no A-R header"
	elif ! cmp -s "$E2E_DIR/$c.daemon" "$E2E_DIR/$c.check"; then
		e2e_fail "check: $c" "daemon (-) and --check (+) differ:"
		diff -u "$E2E_DIR/$c.daemon" "$E2E_DIR/$c.check" | tail -n +3 |
		    cat -A | sed 's/^/	/'
	elif [ "$(cat "$E2E_DIR/$c.action")" != accept ]; then
		e2e_fail "check: $c" "delivered, but --check says: $(cat "$E2E_DIR/$c.action")"
	else
		e2e_ok "check: $c"
	fi
done <<EOF
$CASES
EOF
# the rejected message: --check's reply is the one the client got
if sm_check dmarc-reject "$SM_IP_FAIL" u@reject.sendmail.test; then
	got=$(sed -n 's/^<\*\* *\(5[0-9][0-9] .*\)/\1/p' "$E2E_DIR/swaks.dmarc-reject" |
	    tail -1 | tr -d '\r')
	act=$(cat "$E2E_DIR/dmarc-reject.action")
	if [ -n "$got" ] && [ "$act" = "reject $got" ]; then
		e2e_ok "check: dmarc-reject ($got)"
	else
		e2e_fail "check: dmarc-reject" "client got '$got', --check says '$act'"
	fi
fi

# ---- milter-down: F=T, Sendmail tempfails while the daemon is away ----
# SIGTERM; e2e_milter_exit (tests/e2e/lib.sh) wants a clean exit in 10 s
kill "$E2E_MILTER_PID" 2>/dev/null
e2e_milter_exit
E2E_MILTER_PID=
e2e_msg "$E2E_DIR/milter-down.eml" u@pass.sendmail.test
sm_swaks_run milter-down "$SM_IP_PASS" "$SM_HELO" u@pass.sendmail.test \
    "$E2E_DIR/milter-down.eml"
if grep -q '^<\*\* *4[0-9][0-9] ' "$E2E_DIR/swaks.milter-down" &&
    ! grep -q 'Message accepted for delivery' "$E2E_DIR/swaks.milter-down"; then
	e2e_ok "milter-down: tempfailed ($(grep -m1 '^<\*\*' "$E2E_DIR/swaks.milter-down" | cut -c5-40))"
else
	e2e_fail "milter-down" "not tempfailed: $(grep -E '^<(-|\*\*) +[0-9]{3} ' "$E2E_DIR/swaks.milter-down" | tail -2 | tr '\n' ' ')"
fi
e2e_finish
