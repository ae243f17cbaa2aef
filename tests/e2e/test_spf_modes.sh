#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_spf_modes.sh: SPFMode through a real Postfix (RFC 7208 s.2.3, s.2.4).
#
# helo+mailfrom: both identities are reported (smtp.mailfrom and smtp.helo);
# mailfrom: only the MAIL FROM identity (a null sender is still checked as
# postmaster@HELO, s.2.4); off: no spf= result at all. The daemon is
# restarted between modes; Postfix, nsd and unbound stay up.
. "$(dirname "$0")/lib.sh"
e2e_init test_spf_modes
e2e_conf_set DKIMMode off
e2e_conf_set DMARCMode off
e2e_start_all

C=$E2E_CLIENT
ID=${E2E_AUTHSERV//./\\.}

# send MODE: the two messages of one mode, both sessions waited for.
send() {
	e2e_msg "$E2E_DIR/$1-mf.eml" u@pass.e2e.test
	e2e_msg "$E2E_DIR/$1-null.eml" postmaster@helo-pass.e2e.test
	e2e_swaks_bg "$1-mf" "$C" helo-fail.e2e.test u@pass.e2e.test "$E2E_DIR/$1-mf.eml"
	e2e_swaks_bg "$1-null" "$C" helo-pass.e2e.test '<>' "$E2E_DIR/$1-null.eml"
	e2e_swaks_wait "$1-mf" && e2e_wait_delivered "$1-mf" && MF=$E2E_FILE
	e2e_swaks_wait "$1-null" && e2e_wait_delivered "$1-null" && NULL=$E2E_FILE
}

MF= NULL=
send both
if [ -n "$MF" ]; then
	expect_header_match "both: mailfrom" "$MF" "$(e2e_spf_re pass mailfrom=pass.e2e.test)"
	expect_header_match "both: helo" "$MF" \
	    "^Authentication-Results:[[:space:]]*$ID;.*spf=fail( \([^;]*\))? smtp\.helo=helo-fail\.e2e\.test"
fi
[ -n "$NULL" ] && expect_header_match "both: null sender" "$NULL" \
    "$(e2e_spf_re pass helo=helo-pass.e2e.test)"

MF= NULL=
e2e_conf_set SPFMode mailfrom
e2e_restart_milter
send mailfrom
if [ -n "$MF" ]; then
	expect_header_match "mailfrom: mailfrom" "$MF" "$(e2e_spf_re pass mailfrom=pass.e2e.test)"
	expect_no_header_match "mailfrom: no helo" "$MF" \
	    "^Authentication-Results:[[:space:]]*$ID;.*smtp\.helo="
fi
[ -n "$NULL" ] && expect_header_match "mailfrom: null sender" "$NULL" \
    "$(e2e_spf_re pass helo=helo-pass.e2e.test)"

MF= NULL=
e2e_conf_set SPFMode off
e2e_restart_milter
send off
[ -n "$MF" ] && expect_no_header_match "off: no spf" "$MF" \
    "^Authentication-Results:[[:space:]]*$ID[[:space:];].*spf="
[ -n "$NULL" ] && expect_no_header_match "off: null sender, no spf" "$NULL" \
    "^Authentication-Results:[[:space:]]*$ID[[:space:];].*spf="
e2e_finish
