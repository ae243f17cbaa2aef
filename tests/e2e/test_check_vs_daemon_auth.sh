#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_check_vs_daemon_auth.sh: for DKIM and DMARC, `authmilter --check`
# says what the daemon does (DESIGN.md: two front ends on one engine).
#
# The messages and envelopes are those of test_dkim.sh and test_dmarc.sh
# (the case tables of tests/e2e/lib_auth.sh), sent through Postfix to one
# daemon per section (rfc9989 and rfc7489 enforcing, then the DNS-failure
# cases). What the daemon did is observed, not assumed: delivered (action
# accept), on the hold queue (quarantine), or refused in the SMTP session
# (reject for 5xx, tempfail for 4xx). Then `authmilter -c SAME-CONFIG
# --check MSG --client-ip --helo --mail-from --rcpt [--auth-user]` must
# print the same action, the same reply code and text for a refused message
# (swaks' transcript), and byte for byte the A-R header the daemon added to
# a delivered or held one (none for an authenticated sender).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
e2e_init test_check_vs_daemon_auth
auth_dmarc_conf rfc9989 yes
auth_start_all

# rows "case client mailfrom from sigs tamper" of both tables
DKIM_ROWS=$(while read -r c from sigs tamper want; do
	[ -n "$c" ] && printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$AUTH_C" \
	    "$from" "$from" "$sigs" "$tamper"
done <<<"$AUTH_DKIM_CASES")
dmarc_rows() {
	while read -r c ip mf from sigs out dm; do
		[ -n "$c" ] && printf '%s\t%s\t%s\t%s\t%s\tnone\t%s\n' "$c" "$ip" \
		    "$mf" "$from" "$sigs" "$out"
	done <<<"$1"
}

# send ROWS: makes and sends every message at once.
send() {
	local c ip mf from sigs tamper out extra
	while IFS=$'\t' read -r c ip mf from sigs tamper out; do
		[ -n "$c" ] || continue
		auth_make "$E2E_DIR/$c.eml" "$from" "$sigs" "$tamper"
		extra=()
		[ "$out" = sasl ] && extra=(--auth PLAIN --auth-user "$AUTH_USER" \
		    --auth-password "$AUTH_PASS")
		e2e_swaks_bg "$c" "$ip" "$AUTH_HELO" "$mf" "$E2E_DIR/$c.eml" \
		    "${extra[@]}"
	done <<<"$1"
}

# observe CASE: what the daemon did; sets $c.daemon (our A-R, raw) and
# DID ("accept", "quarantine", or "reject|tempfail CODE TEXT").
observe() {
	local f
	: >"$E2E_DIR/$1.daemon"
	auth_wait_swaks "$1"
	case $AUTH_REPLY in
	5*) DID="reject $AUTH_REPLY"; return ;;
	4*) DID="tempfail $AUTH_REPLY"; return ;;
	esac
	if f=$(auth_held_file "$1"); then
		DID=quarantine
		postcat -c "$E2E_PF_ETC" -h "$f" | sed '/^\*\*\* /d' >"$E2E_DIR/$1.held"
		e2e_our_ar_raw "$E2E_DIR/$1.held" >"$E2E_DIR/$1.daemon"
	elif e2e_wait_delivered "$1"; then
		DID=accept
		e2e_our_ar_raw "$E2E_FILE" >"$E2E_DIR/$1.daemon"
	else
		DID="lost ($AUTH_REPLY)"
	fi
}

# check ROWS: observes each case, runs --check on it and compares.
check() {
	local c ip mf from sigs tamper out auth act rc
	while IFS=$'\t' read -r c ip mf from sigs tamper out; do
		[ -n "$c" ] || continue
		observe "$c"
		auth=()
		[ "$out" = sasl ] && auth=(--auth-user "$AUTH_USER")
		timeout 60 "$AM_BIN" -c "$E2E_CONF" --check "$E2E_DIR/$c.eml" \
		    --client-ip "$ip" --helo "$AUTH_HELO" --mail-from "$mf" \
		    --rcpt "$c@rcpt.test" "${auth[@]}" \
		    >"$E2E_DIR/$c.out" 2>"$E2E_DIR/$c.err"
		rc=$?
		if [ $rc != 0 ]; then
			e2e_fail "$c" "--check exited $rc: $(head -3 "$E2E_DIR/$c.err")"
			continue
		fi
		e2e_sanitizer_check "$c: --check" "$E2E_DIR/$c.err"
		e2e_our_ar_raw "$E2E_DIR/$c.out" >"$E2E_DIR/$c.check"
		act=$(sed -n 's/^action: //p' "$E2E_DIR/$c.out")
		case $act in
		quarantine*) act=quarantine ;;
		esac
		if [ "$act" != "$DID" ]; then
			e2e_fail "$c: action" "daemon: '$DID', --check: '$act'"
		else
			e2e_ok "$c: action $DID"
		fi
		case $DID in
		accept | quarantine) compare "$c" ;;
		esac
	done <<<"$1"
}

# compare CASE: the daemon's A-R ($c.daemon) against --check's ($c.check).
compare() {
	if cmp -s "$E2E_DIR/$1.daemon" "$E2E_DIR/$1.check"; then
		e2e_ok "$1: A-R"
	else
		e2e_fail "$1: A-R" "daemon (-) and --check (+) differ:"
		diff -u "$E2E_DIR/$1.daemon" "$E2E_DIR/$1.check" | tail -n +3 |
		    cat -A | sed 's/^/	/'
	fi
}

ROWS="$DKIM_ROWS
$(dmarc_rows "$AUTH_DMARC_CASES")"
send "$ROWS"
check "$ROWS"

auth_dmarc_conf rfc7489 yes
auth_restart_milter
ROWS=$(dmarc_rows "$AUTH_7489_CASES")
send "$ROWS"
check "$ROWS"

# last, so that a crash on them (there was one: a DMARC lookup that
# tempfailed in the prefetch thread) cannot hide the other cases
auth_dmarc_conf rfc9989 yes
auth_restart_milter
ROWS=$(dmarc_rows "$AUTH_TEMP_CASES")
send "$ROWS"
check "$ROWS"
e2e_finish
