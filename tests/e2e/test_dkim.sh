#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_dkim.sh: DKIM through a real Postfix (RFC 6376 s.6 verification,
# RFC 8463 Ed25519, RFC 8601 s.2.7.1 reporting, RFC 6008 header.b).
#
# Each case of AUTH_DKIM_CASES (tests/e2e/lib_auth.sh) is a message signed
# at test time by dkimpy (tests/e2e/sign.py, keys in tests/keys/, public
# keys in tests/zones/auth.zone and authesp.zone), maybe tampered with after
# signing, sent by swaks and delivered to CASE@rcpt.test. Our A-R header
# must carry exactly the expected dkim= entries, each naming its signature
# by header.d, header.s, header.a and header.b (the first 8 characters of
# its b=, so two signatures of one message are told apart). All delivered
# header blocks are diffed against tests/e2e/test_dkim.ref (signatures are
# deterministic: sign.py fixes t=).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
e2e_init test_dkim
# DKIM alone: the ref must not change when SPF, DMARC or ARC change
e2e_conf_set SPFMode off
e2e_conf_set DMARCMode off
e2e_conf_set ARCMode off
e2e_conf_set DKIMMode on
e2e_start_all

# dkim_re FILE RESULT/DOMAIN/SELECTOR[/REASON]: the regex of one dkim= entry
# for that signature of FILE (the message as sent).
dkim_re() {
	local res d s why a b
	IFS=/ read -r res d s why <<<"$2"
	if [ "$res" = none ]; then
		echo "(;|^)[[:space:]]*dkim=none(;|$)"
		return
	fi
	a=rsa-sha256
	[ "$s" = ed ] && a=ed25519-sha256
	b=$(auth_sig_b "$1" "$d" "$s")
	[ -n "$b" ] || e2e_die "no signature d=$d s=$s in $1"
	why=${why//_/ }
	# a value with MIME tspecials ('/', '=') is a quoted-string (RFC 8601
	# s.2.2 value := token / quoted-string, RFC 2045 s.5.1)
	case $b in
	*[]\(\)\<\>@,\;:\\\"/\[?=]*) b="\"$b\"" ;;
	esac
	printf '(;|^)[[:space:]]*dkim=%s%s header\\.d=%s header\\.i=@%s header\\.s=%s header\\.a=%s header\\.b=%s(;|$)\n' \
	    "$res" "${why:+ \\($(auth_re_quote "$why")\\)}" \
	    "$(auth_re_quote "$d")" "$(auth_re_quote "$d")" "$s" "$a" \
	    "$(auth_re_quote "$b")"
}

# expect_dkim_entry CASE FILE-SENT FILE-GOT ITEM: our A-R has that entry.
expect_dkim_entry() {
	local re
	re=$(dkim_re "$2" "$4")
	if e2e_our_ar "$3" | grep -q -E -- "$re"; then
		e2e_ok "$1: $4"
	else
		e2e_fail "$1: $4" "no dkim= entry matches /$re/; got:"
		e2e_our_ar "$3" | sed 's/^/	/'
	fi
}

# expect_dkim_count CASE FILE N: our A-R has N dkim= entries.
expect_dkim_count() {
	local n
	n=$(e2e_our_ar "$2" | grep -o -E '(;|^)[[:space:]]*dkim=' | wc -l)
	if [ "$n" = "$3" ] && [ "$(e2e_our_ar "$2" | wc -l)" = 1 ]; then
		e2e_ok "$1: $3 dkim= entries"
	else
		e2e_fail "$1: $3 dkim= entries" "got $n in $(e2e_our_ar "$2" | wc -l) A-R header(s) of ours"
	fi
}

# ---- sign, then send everything at once ----
while read -r c from sigs tamper want; do
	[ -n "$c" ] || continue
	auth_make "$E2E_DIR/$c.eml" "$from" "$sigs" "$tamper"
	e2e_swaks_bg "$c" "$AUTH_C" "$AUTH_HELO" "$from" "$E2E_DIR/$c.eml"
done <<<"$AUTH_DKIM_CASES"

while read -r c from sigs tamper want; do
	[ -n "$c" ] || continue
	e2e_swaks_wait "$c" || continue
	e2e_wait_delivered "$c" || continue
	n=0
	for item in $want; do
		expect_dkim_entry "$c" "$E2E_DIR/$c.eml" "$E2E_FILE" "$item"
		n=$((n + 1))
	done
	expect_dkim_count "$c" "$E2E_FILE" "$n"
	# the signatures arrive untouched (a milter must not break them)
	if [ "$sigs" != - ]; then
		if diff <(e2e_headers "$E2E_DIR/$c.eml" | grep -i '^DKIM-Signature:') \
		    <(e2e_headers "$E2E_FILE" | grep -i '^DKIM-Signature:') >/dev/null; then
			e2e_ok "$c: signatures kept"
		else
			e2e_fail "$c: signatures kept" "the delivered DKIM-Signature fields differ from the sent ones"
		fi
	fi
	e2e_ref_add "$c" "$E2E_FILE"
done <<<"$AUTH_DKIM_CASES"

# ---- forged A-R with a dkim=pass of ours is replaced, not kept ----
auth_make "$E2E_DIR/forged.eml" u@auth.test auth.test/nokey none
sed -i "1i Authentication-Results: $E2E_AUTHSERV; dkim=pass header.d=auth.test header.b=forged00\r" \
    "$E2E_DIR/forged.eml"
e2e_swaks forged "$AUTH_C" "$AUTH_HELO" u@auth.test "$E2E_DIR/forged.eml" &&
e2e_wait_delivered forged && {
	expect_no_header_match "forged: removed" "$E2E_FILE" 'header\.b=forged00'
	expect_dkim_entry forged "$E2E_DIR/forged.eml" "$E2E_FILE" \
	    permerror/auth.test/nokey/no_key
	expect_dkim_count forged "$E2E_FILE" 1
	e2e_ref_add forged "$E2E_FILE"
}

e2e_ref_check test_dkim
e2e_finish
