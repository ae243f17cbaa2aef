#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_gateway.sh: authmilter on a security gateway (DESIGN.md; issue 5):
# an internet-facing Postfix with the daemon (DMARCEnforce yes, ARC
# sealing as gw.test) relays everything to a second Postfix standing in
# for the hosted mailbox provider, which sees only the gateway's address
# (tests/e2e/lib_gateway.sh). What the provider received is checked:
#   pass, pass6    DMARC pass (SPF for the client address the gateway saw
#                  by XCLIENT; DKIM): delivered; our A-R on top of the A-R
#                  fields with spf=pass, dmarc=pass and arc=none
#                  smtp.remote-ip=CLIENT; our ARC set above it (RFC 8617
#                  s.5.1: i=1 cv=none), whose AAR carries our results,
#                  valid by dkimpy's arc_verify (keys from the zone)
#   reject, reject-dkim  DMARC p=reject failures (no SPF, no DKIM; DKIM
#                  broken by a changed body): 550 5.7.1, never delivered,
#                  nothing left on the gateway's queue
#   forged-ar      A-R fields claiming our authserv-id (and its alias) from
#                  outside are removed (RFC 8601 s.5), a foreign one kept
#   forged-copy    our real ARC set copied onto another message, and
#   forged-key     a set claiming d=gw.test s=seal made with another key:
#                  our arc=fail, our new seal i=2 cv=fail (s.5.1.1), which
#                  dkimpy sees as a failed or terminated chain
#   every delivered one: the only fields we add are Authentication-Results
#                  and the three ARC fields (no private X- verdicts)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gateway.sh"
gw_init test_gateway
gw_start_all

ID=${E2E_AUTHSERV//./\\.}
ARC4="arc-authentication-results arc-message-signature arc-seal authentication-results"

# added CASE SENT GOT WANT: the fields GOT has beyond SENT are WANT.
added() {
	expect_eq "$1: fields added" "$(gw_added "$2" "$3" | tr '\n' ' ' | sed 's/ $//')" "$4"
}

# our_ar_first CASE FILE: the first A-R field is ours.
our_ar_first() {
	local first
	first=$(e2e_headers "$2" | grep -i -m1 '^Authentication-Results:')
	expect_match "$1: our A-R first" "$first" "^Authentication-Results:[[:space:]]*$ID;"
}

# ---- phase 1: everything that needs no delivered message ----
M=$E2E_DIR
gw_msg "$M/pass.eml" "u@$GW_SENDER"
gw_dkim_sign "$M/pass.eml"
gw_msg "$M/pass6.eml" "u@$GW_SENDER"
gw_msg "$M/reject.eml" "u@$GW_SENDER"
gw_msg "$M/reject-dkim.eml" "u@$GW_SENDER"
gw_dkim_sign "$M/reject-dkim.eml"
sed -i 's/^Test message /Test message (changed) /' "$M/reject-dkim.eml"
gw_msg "$M/forged-ar.eml" "u@$GW_SENDER" \
    "Authentication-Results: $E2E_AUTHSERV; dkim=pass header.d=forged.example; dmarc=pass header.from=forged.example" \
    "Authentication-Results: other.example; spf=pass smtp.mailfrom=kept.example" \
    "Authentication-Results: $E2E_ALIAS; arc=pass smtp.remote-ip=203.0.113.1"
# a set that claims to be ours, made with a key published nowhere; the
# forger's A-R (our authserv-id) goes into its AAR, and is removed
gw_msg "$M/forged-key.eml" "u@$GW_SENDER" \
    "Authentication-Results: $E2E_AUTHSERV; spf=pass smtp.mailfrom=$GW_SENDER; dmarc=pass header.from=$GW_SENDER"
gw_arc_seal "$M/forged-key.eml" "$GW_SEAL_DOMAIN" "$GW_KEYS/wrong.pem" "$E2E_AUTHSERV"

gw_send pass "$GW_OK_IP" "u@$GW_SENDER" "$M/pass.eml"
gw_send pass6 "$GW_OK_IP6" "u@$GW_SENDER" "$M/pass6.eml"
gw_send reject "$GW_BAD_IP" "u@$GW_SENDER" "$M/reject.eml"
gw_send reject-dkim "$GW_BAD_IP" "u@$GW_SENDER" "$M/reject-dkim.eml"
gw_send forged-ar "$GW_OK_IP" "u@$GW_SENDER" "$M/forged-ar.eml"
gw_send forged-key "$GW_OK_IP" "u@$GW_SENDER" "$M/forged-key.eml"

gw_expect_rejected reject
gw_expect_rejected reject-dkim

# pass, pass6: DMARC pass, the client's address kept in our A-R
for c in pass pass6; do
	ip=$GW_OK_IP
	[ $c = pass6 ] && ip=$GW_OK_IP6
	gw_expect_delivered $c || continue
	F=$E2E_FILE
	eval "FILE_${c}=\$F"
	our_ar_first $c "$F"
	mech=ip4
	[ $c = pass6 ] && mech=ip6
	expect_header_match "$c: spf=pass for $ip" "$F" \
	    "^Authentication-Results:[[:space:]]*$ID;.*spf=pass \(matched $mech:${ip//./\\.}\) smtp\.mailfrom=$GW_SENDER;"
	expect_header_match "$c: arc=none smtp.remote-ip=$ip" "$F" \
	    "^Authentication-Results:[[:space:]]*$ID;.*arc=none smtp\.remote-ip=(\"$ip\"|$ip)(;|$)"
	expect_header_match "$c: dmarc=pass" "$F" \
	    "^Authentication-Results:[[:space:]]*$ID;.*dmarc=pass \(p=reject dis=none\) header\.from=$GW_SENDER(;|$)"
	gw_expect_sealed $c "$F" 1 none pass
	added $c "$M/$c.eml" "$F" "$ARC4"
	# the provider saw the gateway only
	expect_match "$c: provider's Received" "$(gw_field "$F" Received | head -1)" \
	    "^from $E2E_AUTHSERV \(unknown \[127\.0\.0\.1\]\)[[:space:]]+by $GW_PROVIDER "
done
[ -n "${FILE_pass:-}" ] && expect_header_match "pass: dkim=pass" "$FILE_pass" \
    "^Authentication-Results:[[:space:]]*$ID;.*dkim=pass header\.d=$GW_SENDER "

# forged-ar: one A-R of ours (none of the forged text), the foreign one kept
if gw_expect_delivered forged-ar; then
	F=$E2E_FILE
	our_ar_first forged-ar "$F"
	expect_eq "forged-ar: A-R fields" "$(e2e_headers "$F" | grep -i '^Authentication-Results:' |
	    sed -E 's/^[^:]*:[[:space:]]*([^; ]*).*/\1/' | tr '\n' ' ')" \
	    "$E2E_AUTHSERV other.example "
	expect_no_header_match "forged-ar: forged results gone" "$F" \
	    'forged\.example|203\.0\.113\.1'
	expect_header_match "forged-ar: foreign A-R kept" "$F" \
	    '^Authentication-Results: other\.example; spf=pass smtp\.mailfrom=kept\.example$'
	gw_expect_sealed forged-ar "$F" 1 none pass
	expect_no_header_match "forged-ar: AAR without forged results" "$F" \
	    '^ARC-Authentication-Results:.*(forged|203\.0\.113)'
	added forged-ar "$M/forged-ar.eml" "$F" \
	    "arc-authentication-results arc-message-signature arc-seal"
fi

# forged-key: a bad seal in our name
if gw_expect_delivered forged-key; then
	F=$E2E_FILE
	expect_header_match "forged-key: arc=fail" "$F" \
	    "^Authentication-Results:[[:space:]]*$ID;.*arc=fail( \([^)]*\))? smtp\.remote-ip=$GW_OK_IP(;|$)"
	expect_no_header_match "forged-key: forged A-R gone" "$F" \
	    "^Authentication-Results:[[:space:]]*$ID;.*dmarc=pass header\.from=$GW_SENDER$"
	expect_eq "forged-key: one A-R of ours" "$(e2e_our_ar "$F" | wc -l)" 1
	gw_expect_sealed forged-key "$F" 2 fail 'fail|terminated'
	added forged-key "$M/forged-key.eml" "$F" \
	    "arc-authentication-results arc-message-signature arc-seal"
fi

# ---- phase 2: our real set, from pass's delivered copy, on another message ----
if [ -n "${FILE_pass:-}" ]; then
	{
		tr -d '\r' <"$FILE_pass" | awk '
			/^$/ { exit }
			/^[ \t]/ { if (keep) print; next }
			{ keep = tolower($0) ~ /^arc-(seal|message-signature|authentication-results):/
			  if (keep) print }'
	} | sed 's/$/\r/' >"$M/forged-copy.eml"
	gw_msg "$M/copy-body.eml" "u@$GW_SENDER"
	sed -i 's/^Test message copy-body/Pay the invoice now./' "$M/copy-body.eml"
	cat "$M/copy-body.eml" >>"$M/forged-copy.eml"
	gw_send forged-copy "$GW_OK_IP" "u@$GW_SENDER" "$M/forged-copy.eml"
	if gw_expect_delivered forged-copy; then
		F=$E2E_FILE
		expect_header_match "forged-copy: arc=fail" "$F" \
		    "^Authentication-Results:[[:space:]]*$ID;.*arc=fail( \([^)]*\))? smtp\.remote-ip=$GW_OK_IP(;|$)"
		gw_expect_sealed forged-copy "$F" 2 fail 'fail|terminated'
		added forged-copy "$M/forged-copy.eml" "$F" "$ARC4"
	fi
else
	e2e_fail forged-copy "no delivered copy of pass to take the ARC set from"
fi

# the rejected ones never reached the provider, nor wait on the gateway
for c in reject reject-dkim; do
	expect_not=$(e2e_delivered_file "$c@rcpt.test")
	expect_eq "$c: not at the provider" "$expect_not" ""
done
queue_empty() {
	postqueue -c "$E2E_PF_ETC" -p 2>&1 | grep -q -x 'Mail queue is empty'
}
if e2e_poll 10 queue_empty; then
	e2e_ok "gateway queue empty"
else
	e2e_fail "gateway queue empty" "$(postqueue -c "$E2E_PF_ETC" -p 2>&1 | head -5)"
fi
e2e_finish
