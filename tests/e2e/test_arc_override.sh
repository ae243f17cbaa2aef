#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_arc_override.sh: the ARC trusted-sealer DMARC override (RFC 8617
# s.7.2; ARCTrustedSealers in authmilter.conf(5)) through the gateway of
# tests/e2e/lib_gateway.sh (DMARCEnforce yes, ARC sealing on).
#
# The author's message (From u@sender.gw.test, p=reject) is DKIM-signed by
# sender.gw.test, then goes through the mailing list list.gw.test: its MTA
# adds an Authentication-Results (list.gw.test; dkim=pass ...), the list
# appends a footer (which breaks the author's DKIM signature), and seals
# it with Debian's dkimpy (dkim.arc_sign: i=1 cv=none, the AAR made of the
# list's A-R). It is sent from the list's server (198.51.100.20, MAIL FROM
# list-bounces@list.gw.test: SPF passes, unaligned), so DMARC fails.
#
# Part 1, ARCTrustedSealers list.gw.test:
#   list-dmarc    AAR dmarc=pass: delivered, dmarc=fail (p=reject dis=none
#                 reason=mailing_list arc=pass as=1 d=list.gw.test
#                 dmarc=pass ...), arc=pass, our seal i=2 cv=pass valid
#   list-dkim     AAR only dkim=pass header.d=sender.gw.test (aligned)
#   list-spf      AAR only spf=pass smtp.mailfrom=u@sender.gw.test
#   list-fwd      then an untrusted forwarder (rogue.gw.test) seals i=2
#                 without changing anything: as=1 still vouches
#   list-fail     AAR says dkim=fail, dmarc=fail: 550 5.7.1
#   list-unaligned AAR passes only for the list's own domain: 550
#   list-broken   the footer appended after the seal: arc=fail, 550
#   rogue         the same message sealed by rogue.gw.test: 550
#   rogue-reseal  list-dmarc's message, its body replaced by an untrusted
#                 sealer that seals i=2: the list's AMS no longer verifies
#                 (header.oldest-pass=2), so its AAR vouches for another
#                 message: 550
#   rogue-from    a list message of another author (u@rogue.gw.test, AAR
#                 dmarc=pass header.from=rogue.gw.test), From changed to
#                 u@sender.gw.test and resealed by rogue.gw.test: 550
#   list-wrong-from  the list's AAR says dmarc=pass header.from= another
#                 domain than the message's From: 550
# Part 2, the daemon restarted without ARCTrustedSealers: list-dmarc's and
# list-dkim's very files are sent again: 550 5.7.1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gateway.sh"
gw_init test_arc_override
e2e_conf_set ARCTrustedSealers "$GW_LIST"
gw_start_all

ID=${E2E_AUTHSERV//./\\.}
M=$E2E_DIR
U=u@$GW_SENDER
LB=list-bounces@$GW_LIST
RB=bounces@$GW_ROGUE
R_FULL="dkim=pass header.d=$GW_SENDER header.s=s1; spf=pass smtp.mailfrom=$U; dmarc=pass header.from=$GW_SENDER"
R_DKIM="dkim=pass header.d=$GW_SENDER header.s=s1"
R_SPF="spf=pass smtp.mailfrom=$U"
R_FAIL="dkim=fail header.d=$GW_SENDER; spf=fail smtp.mailfrom=$U; dmarc=fail header.from=$GW_SENDER"
R_UNAL="dkim=pass header.d=$GW_LIST; spf=pass smtp.mailfrom=$LB"
R_WRONG="dmarc=pass header.from=$GW_ROGUE"

# author FILE [FROM]: the author's signed message (From FROM, default $U).
author() {
	gw_msg "$1" "${2:-$U}"
	if [ -z "${2:-}" ]; then
		gw_dkim_sign "$1"
	fi
}

# listmsg FILE SEALER RESULTS [after]: the author's message after a list.
listmsg() {
	local key=$GW_KEYS/list.pem
	[ "$2" = "$GW_ROGUE" ] && key=$GW_KEYS/rogue.pem
	author "$1"
	gw_list "$1" "$2" "$key" "$3" "${4:-}"
}

# ---- part 1: the list is trusted ----
listmsg "$M/list-dmarc.eml" "$GW_LIST" "$R_FULL"
listmsg "$M/list-dkim.eml" "$GW_LIST" "$R_DKIM"
listmsg "$M/list-spf.eml" "$GW_LIST" "$R_SPF"
listmsg "$M/list-fwd.eml" "$GW_LIST" "$R_FULL"
{
	printf 'Authentication-Results: %s; arc=pass smtp.remote-ip=%s; spf=pass smtp.mailfrom=%s\r\n' \
	    "$GW_ROGUE" "$GW_LIST_IP" "$LB"
	cat "$M/list-fwd.eml"
} >"$M/list-fwd.tmp" && mv "$M/list-fwd.tmp" "$M/list-fwd.eml"
gw_arc_seal "$M/list-fwd.eml" "$GW_ROGUE" "$GW_KEYS/rogue.pem" "$GW_ROGUE"
listmsg "$M/list-fail.eml" "$GW_LIST" "$R_FAIL"
listmsg "$M/list-unaligned.eml" "$GW_LIST" "$R_UNAL"
listmsg "$M/list-broken.eml" "$GW_LIST" "$R_FULL" after
listmsg "$M/rogue.eml" "$GW_ROGUE" "$R_FULL"
listmsg "$M/list-wrong-from.eml" "$GW_LIST" "$R_WRONG"
# rogue-reseal: list-dmarc's message with a new body, resealed
cp "$M/list-dmarc.eml" "$M/rogue-reseal.eml"
sed -i 's/^Test message list-dmarc\./Please pay invoice 4711 to account 666./' "$M/rogue-reseal.eml"
# rogue-from: another author's list message, the From changed, resealed
gw_msg "$M/rogue-from.eml" "u@$GW_ROGUE"
gw_list "$M/rogue-from.eml" "$GW_LIST" "$GW_KEYS/list.pem" \
    "spf=pass smtp.mailfrom=u@$GW_ROGUE; dmarc=pass header.from=$GW_ROGUE"
sed -i "s/^From: <u@$GW_ROGUE>/From: <$U>/" "$M/rogue-from.eml"
for c in rogue-reseal rogue-from; do
	{
		printf 'Authentication-Results: %s; arc=pass smtp.remote-ip=%s\r\n' \
		    "$GW_ROGUE" "$GW_LIST_IP"
		cat "$M/$c.eml"
	} >"$M/$c.tmp" && mv "$M/$c.tmp" "$M/$c.eml"
	gw_arc_seal "$M/$c.eml" "$GW_ROGUE" "$GW_KEYS/rogue.pem" "$GW_ROGUE"
done

DELIVER="list-dmarc:dmarc=pass list-dkim:dkim=pass list-spf:spf=pass list-fwd:dmarc=pass"
REJECT="list-fail list-unaligned list-broken rogue rogue-reseal rogue-from list-wrong-from"
for c in list-dmarc list-dkim list-spf list-fwd list-fail list-unaligned \
    list-broken list-wrong-from; do
	gw_send "$c" "$GW_LIST_IP" "$LB" "$M/$c.eml"
done
for c in rogue rogue-reseal rogue-from; do
	gw_send "$c" "$GW_ROGUE_IP" "$RB" "$M/$c.eml"
done

for c in $REJECT; do
	gw_expect_rejected "$c"
done
for cw in $DELIVER; do
	c=${cw%%:*}
	why=${cw#*:}
	n=2
	[ "$c" = list-fwd ] && n=3
	gw_expect_delivered "$c" || continue
	F=$E2E_FILE
	expect_header_match "$c: dmarc=fail, overridden" "$F" \
	    "^Authentication-Results:[[:space:]]*$ID;.*dmarc=fail \(p=reject dis=none reason=mailing_list arc=pass as=1 d=$GW_LIST $why; no aligned identifier passed\) header\.from=$GW_SENDER policy\.dmarc=none(;|$)"
	expect_header_match "$c: arc=pass" "$F" \
	    "^Authentication-Results:[[:space:]]*$ID;.*arc=pass smtp\.remote-ip=$GW_LIST_IP(;|$)"
	expect_header_match "$c: author's DKIM broken by the footer" "$F" \
	    "^Authentication-Results:[[:space:]]*$ID;.*dkim=fail \([^)]*\) header\.d=$GW_SENDER "
	expect_header_match "$c: spf=pass for the list, unaligned" "$F" \
	    "$(e2e_spf_re pass mailfrom=$GW_LIST)"
	gw_expect_sealed "$c" "$F" $n pass pass
done

# ---- part 2: the list is not trusted ----
e2e_conf_set ARCTrustedSealers ""
e2e_restart_milter
for c in list-dmarc list-dkim; do
	cp "$M/$c.eml" "$M/untrusted-$c.eml"
	gw_send "untrusted-$c" "$GW_LIST_IP" "$LB" "$M/untrusted-$c.eml"
done
for c in list-dmarc list-dkim; do
	gw_expect_rejected "untrusted-$c"
done
for c in $REJECT untrusted-list-dmarc untrusted-list-dkim; do
	expect_eq "$c: not at the provider" "$(e2e_delivered_file "$c@rcpt.test")" ""
done
e2e_finish
