#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_idna.sh: internationalised domains through a real Postfix with
# SMTPUTF8 (RFC 6531) and an SMTPUTF8 client (tests/e2e/smtp_session.py).
#
# RFC 8616: a domain written in U-labels is looked up and compared as its
# A-labels, whatever its case or Unicode normalisation. The DNS data is
# tests/zones/idna.zone: xn--bcher-kva.test (b<U+00FC>cher.test) with SPF
# -all for all but 192.0.2.10, DMARC p=reject and a DKIM key, published
# as A-labels only. Cases:
#   from-upper, from-nfd, from-nfc  From: alice@B<U+00DC>CHER.test (and NFD,
#            NFC) from an unauthorized client: p=reject applies, 550
#   spf-utf8 MAIL FROM:<alice@B<U+00DC>CHER.test> SMTPUTF8 from an
#            unauthorized client: spf=fail smtp.mailfrom=xn--bcher-kva.test
#   dkim-ulabel  signed by dkimpy with d=B<U+00DC>CHER.test: dkim=pass
#            header.d=xn--bcher-kva.test, so DMARC passes and it is delivered
# Delivered header blocks are diffed against tests/e2e/test_idna.ref.
. "$(dirname "$0")/lib.sh"
e2e_init test_idna
e2e_conf_set DMARCMode rfc9989
e2e_conf_set DMARCEnforce yes
e2e_conf_set DMARCRejectText 'DMARC policy of %d says no'
e2e_conf_set ARCMode off
e2e_postfix_main_extra() {
	echo "smtputf8_enable = yes"
}
e2e_start_all

OK=192.0.2.10
BAD=192.0.2.99
UE=$(printf '\xc3\xbc')		# U+00FC
UE_UP=$(printf '\xc3\x9c')	# U+00DC
NFD_UP=$(printf 'U\xcc\x88')	# U + U+0308
KEY=$AM_TOP_SRCDIR/tests/keys/rsa2048.pem

# idn_msg FILE FROM: a message whose From: is FROM (raw UTF-8 allowed,
# RFC 6532), CRLF line ends.
idn_msg() {
	{
		printf 'From: <%s>\r\nTo: <rcpt@rcpt.test>\r\n' "$2"
		printf 'Subject: e2e %s\r\n' "$(basename "$1" .eml)"
		printf 'Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n'
		printf 'Message-ID: <%s@e2e.test>\r\n' "$(basename "$1" .eml)"
		printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'
		printf 'Test message %s.\r\n' "$(basename "$1" .eml)"
	} >"$1"
}

# idn_send CASE CLIENT MAILFROM CODE: one SMTPUTF8 session sending
# $E2E_DIR/CASE.eml to CASE@rcpt.test; DATA must get CODE.
idn_send() {
	cat >"$E2E_DIR/$1.session" <<EOF
xclient ADDR=$2
ehlo client.e2e.test
mail $3 SMTPUTF8
rcpt $1@rcpt.test
data $E2E_DIR/$1.eml $4
quit
EOF
	e2e_session "$1" "$E2E_DIR/$1.session"
}

# expect_reject CASE: the session's DATA got our DMARC reject.
expect_reject() {
	if grep -q "^DATA .* -> 550 5.7.1 DMARC policy of xn--bcher-kva.test says no" \
	    "$E2E_DIR/session.$1"; then
		e2e_ok "$1: rejected by p=reject of xn--bcher-kva.test"
	else
		e2e_fail "$1" "no DMARC reject: $(grep '^DATA' "$E2E_DIR/session.$1")"
	fi
	if e2e_delivered_file "$1@rcpt.test" >/dev/null; then
		e2e_fail "$1: not delivered" "it was delivered"
	fi
}

# ---- the From domain in U-labels: upper case, NFD, NFC ----
for c in "from-upper alice@B${UE_UP}CHER.test" \
    "from-nfd alice@B${NFD_UP}CHER.test" "from-nfc alice@b${UE}cher.test"; do
	set -- $c
	idn_msg "$E2E_DIR/$1.eml" "$2"
	idn_send "$1" "$BAD" u@pass.e2e.test 550 && expect_reject "$1"
done

# ---- a UTF-8 MAIL FROM domain is checked as its A-labels: -all is fail ----
idn_msg "$E2E_DIR/spf-utf8.eml" u@pass.e2e.test
if idn_send spf-utf8 "$BAD" "alice@B${UE_UP}CHER.test" 250 &&
    e2e_wait_delivered spf-utf8; then
	expect_header_match "spf-utf8: spf=fail" "$E2E_FILE" \
	    "$(e2e_spf_re fail mailfrom=xn--bcher-kva.test)"
	e2e_ref_add spf-utf8 "$E2E_FILE"
fi

# ---- DKIM d= in U-labels, key at the A-label: pass, DMARC aligned ----
idn_msg "$E2E_DIR/dkim-ulabel.eml" "alice@b${UE}cher.test"
/usr/bin/python3 "$E2E_SRC/sign.py" "$E2E_DIR/dkim-ulabel.eml" \
    "$E2E_DIR/dkim-ulabel.signed" \
    "d=B${UE_UP}CHER.test,s=rsa,key=$KEY,h=from:to:subject:date" ||
    e2e_die "sign.py failed"
mv "$E2E_DIR/dkim-ulabel.signed" "$E2E_DIR/dkim-ulabel.eml"
if idn_send dkim-ulabel "$BAD" u@pass.e2e.test 250 &&
    e2e_wait_delivered dkim-ulabel; then
	expect_header_match "dkim-ulabel: dkim=pass" "$E2E_FILE" \
	    "^Authentication-Results:[[:space:]]*${E2E_AUTHSERV//./\\.};.*dkim=pass header\.d=xn--bcher-kva\.test header\.i=@xn--bcher-kva\.test "
	expect_header_match "dkim-ulabel: dmarc=pass" "$E2E_FILE" \
	    "^Authentication-Results:[[:space:]]*${E2E_AUTHSERV//./\\.};.*dmarc=pass [^;]*header\.from=xn--bcher-kva\.test"
	e2e_ref_add dkim-ulabel "$E2E_FILE"
fi

e2e_ref_check test_idna
e2e_finish
