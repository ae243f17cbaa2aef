#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_spf.sh: SPF through a real Postfix (RFC 7208 s.2.6 results, RFC 8601
# s.2.7.2 reporting, s.5 removal of forged A-R headers).
#
# Each case is one swaks session (client address by XCLIENT) whose message
# is delivered to CASE@rcpt.test; the A-R header authmilter added must show
# the expected result and identity, and be the only one with our
# authserv-id. Then: forged A-R headers, a trusted client, and several
# messages on one SMTP connection. All delivered header blocks are diffed
# against tests/e2e/test_spf.ref.
. "$(dirname "$0")/lib.sh"
e2e_init test_spf
# SPF alone: the ref must not change when other methods land
e2e_conf_set DKIMMode off
e2e_conf_set DMARCMode off
e2e_conf_set ARCMode off
e2e_start_all

C=$E2E_CLIENT
H=client.e2e.test
# case		client		helo		mail from		result		identity
CASES="
pass		$C		$H		u@pass.e2e.test		pass		mailfrom=pass.e2e.test
fail		$C		$H		u@fail.e2e.test		fail		mailfrom=fail.e2e.test
softfail	$C		$H		u@softfail.e2e.test	softfail	mailfrom=softfail.e2e.test
neutral		$C		$H		u@neutral.e2e.test	neutral		mailfrom=neutral.e2e.test
none-nodata	$C		$H		u@none.e2e.test		none		mailfrom=none.e2e.test
none-nxdomain	$C		$H		u@nx.e2e.test		none		mailfrom=nx.e2e.test
none-notspf	$C		$H		u@notspf.e2e.test	none		mailfrom=notspf.e2e.test
permerror	$C		$H		u@permerror.e2e.test	permerror	mailfrom=permerror.e2e.test
permerror-two	$C		$H		u@twospf.e2e.test	permerror	mailfrom=twospf.e2e.test
include		$C		$H		u@include.e2e.test	pass		mailfrom=include.e2e.test
a-mech		$C		$H		u@amech.e2e.test	pass		mailfrom=amech.e2e.test
mx-mech		$C		$H		u@mxmech.e2e.test	pass		mailfrom=mxmech.e2e.test
split-txt	$C		$H		u@split.e2e.test	pass		mailfrom=split.e2e.test
ipv6		2001:db8::10	$H		u@ip6.e2e.test		pass		mailfrom=ip6.e2e.test
ipv6-fail	2001:db8:1::10	$H		u@ip6.e2e.test		fail		mailfrom=ip6.e2e.test
temperror	$C		$H		u@servfail.test		temperror	mailfrom=servfail.test
temperror-inc	$C		$H		u@tempinc.e2e.test	temperror	mailfrom=tempinc.e2e.test
temperror-time	$C		$H		u@timeoutinc.e2e.test	temperror	mailfrom=timeoutinc.e2e.test
null-helo-pass	$C		helo-pass.e2e.test <>			pass		helo=helo-pass.e2e.test
null-helo-fail	$C		helo-fail.e2e.test <>			fail		helo=helo-fail.e2e.test
"

# expect_ar_space CASE FILE: our A-R reads "Authentication-Results: id;",
# the space after the colon that every MTA writes (RFC 5322 s.2.2 allows
# none, but --check prints one and readers' tools expect it).
expect_ar_space() {
	if e2e_our_ar "$2" | grep -q '^Authentication-Results: [^[:space:]]'; then
		e2e_ok "$1: space after colon"
	else
		e2e_fail "$1: space after colon" "got: $(e2e_our_ar "$2" | cut -c1-40)"
	fi
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

# ---- one message per session, all sent before any is checked ----
echo "$CASES" | while read -r c ip helo from res id; do
	[ -n "$c" ] || continue
	e2e_msg "$E2E_DIR/$c.eml" "$from"
done
# in parallel: the daemon serves many connections at once
while read -r c ip helo from res id; do
	[ -n "$c" ] || continue
	e2e_swaks_bg "$c" "$ip" "$helo" "$from" "$E2E_DIR/$c.eml"
done <<EOF
$CASES
EOF
while read -r c ip helo from res id; do
	[ -n "$c" ] || continue
	e2e_swaks_wait "$c" || continue
	e2e_wait_delivered "$c" || continue
	expect_header_match "$c" "$E2E_FILE" "$(e2e_spf_re "$res" "$id")"
	expect_one_ar "$c" "$E2E_FILE"
	[ "$c" = pass ] && expect_ar_space "$c" "$E2E_FILE"
	e2e_ref_add "$c" "$E2E_FILE"
done <<EOF
$CASES
EOF

# ---- forged A-R headers (RFC 8601 s.5) ----
FORGED_OURS="Authentication-Results: $E2E_AUTHSERV; spf=pass smtp.mailfrom=forged.example"
FORGED_ALIAS="Authentication-Results: $E2E_ALIAS; dkim=pass header.d=forged.example"
FORGED_FOLDED="Authentication-Results: $E2E_AUTHSERV;\r\n	spf=pass\r\n	smtp.mailfrom=folded.example"
FORGED_VERSION="Authentication-Results: $E2E_AUTHSERV 1; spf=pass smtp.mailfrom=versioned.example"
# authserv-ids are domain names: case does not matter (RFC 8601 s.2.5)
FORGED_CASE="Authentication-Results: MX.Example.TEST; spf=pass smtp.mailfrom=upper.example"
OTHER="Authentication-Results: other.example.test; spf=fail smtp.mailfrom=other.example"
e2e_msg "$E2E_DIR/forged.eml" u@fail.e2e.test "$FORGED_OURS" "$OTHER" \
    "$(printf "$FORGED_FOLDED")" "$FORGED_ALIAS" "$FORGED_VERSION" \
    "$FORGED_CASE"
e2e_swaks forged "$C" "$H" u@fail.e2e.test "$E2E_DIR/forged.eml" &&
e2e_wait_delivered forged && {
	f=$E2E_FILE
	expect_no_header_match "forged: ours removed" "$f" 'smtp\.mailfrom=forged\.example'
	expect_no_header_match "forged: folded removed" "$f" 'folded\.example'
	expect_no_header_match "forged: versioned removed" "$f" 'versioned\.example'
	expect_no_header_match "forged: other case removed" "$f" 'upper\.example'
	expect_no_header_match "forged: alias removed" "$f" "^Authentication-Results:[[:space:]]*${E2E_ALIAS//./\\.}"
	expect_header_match "forged: other kept" "$f" "^Authentication-Results: other\.example\.test; spf=fail smtp\.mailfrom=other\.example$"
	expect_header_match "forged: verdict" "$f" "$(e2e_spf_re fail mailfrom=fail.e2e.test)"
	expect_one_ar forged "$f"
	e2e_ref_add forged "$f"
}

# ---- a trusted client is not judged, forged headers still go ----
e2e_msg "$E2E_DIR/trusted.eml" u@fail.e2e.test "$FORGED_OURS" "$OTHER"
e2e_swaks trusted 192.0.2.250 "$H" u@fail.e2e.test "$E2E_DIR/trusted.eml" &&
e2e_wait_delivered trusted && {
	f=$E2E_FILE
	expect_no_header_match "trusted: no spf verdict" "$f" \
	    "^Authentication-Results:[[:space:]]*${E2E_AUTHSERV//./\\.}[[:space:];].*spf="
	expect_no_header_match "trusted: forged removed" "$f" 'forged\.example'
	expect_header_match "trusted: other kept" "$f" '^Authentication-Results: other\.example\.test;'
	e2e_ref_add trusted "$f"
}

# ---- several messages on one connection: RSET, and XCLIENT in between ----
e2e_msg "$E2E_DIR/multi.eml" u@pass.e2e.test
cat >"$E2E_DIR/multi.session" <<EOF
xclient ADDR=$C
ehlo $H
mail u@pass.e2e.test
rcpt multi-1@rcpt.test
data $E2E_DIR/multi.eml
mail u@fail.e2e.test
rcpt multi-2@rcpt.test
data $E2E_DIR/multi.eml
mail u@pass.e2e.test
rcpt multi-3@rcpt.test
rset
mail u@softfail.e2e.test
rcpt multi-4@rcpt.test
data $E2E_DIR/multi.eml
xclient ADDR=192.0.2.99
ehlo other.e2e.test
mail u@fail.e2e.test
rcpt multi-5@rcpt.test
data $E2E_DIR/multi.eml
mail u@pass.e2e.test
rcpt multi-6@rcpt.test
data $E2E_DIR/multi.eml
quit
EOF
if e2e_session multi "$E2E_DIR/multi.session"; then
	for m in "1 pass mailfrom=pass.e2e.test" "2 fail mailfrom=fail.e2e.test" \
	    "4 softfail mailfrom=softfail.e2e.test" \
	    "5 pass mailfrom=fail.e2e.test" "6 fail mailfrom=pass.e2e.test"; do
		set -- $m
		e2e_wait_delivered "multi-$1" || continue
		expect_header_match "multi-$1" "$E2E_FILE" "$(e2e_spf_re "$2" "$3")"
		expect_one_ar "multi-$1" "$E2E_FILE"
		e2e_ref_add "multi-$1" "$E2E_FILE"
	done
	if e2e_delivered_file multi-3@rcpt.test >/dev/null; then
		e2e_fail "multi-3" "the RSET transaction was delivered"
	else
		e2e_ok "multi-3: RSET transaction not delivered"
	fi
fi

e2e_ref_check test_spf
e2e_finish
