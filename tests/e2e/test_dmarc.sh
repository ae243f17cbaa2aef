#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_dmarc.sh: DMARC through a real Postfix (RFC 9989 policy discovery,
# alignment, p/sp/np/t; RFC 7489 pct; the daemon's enforcement: 550 5.7.1
# rejection, quarantine to Postfix's hold queue, 451 4.7.1 on DNS trouble,
# trusted forwarders, ignored domains, several authors, SMTP AUTH).
#
# Five sections, one daemon configuration each (the daemon is restarted in
# between; Postfix, with Cyrus SASL, keeps running): the case tables
# AUTH_DMARC_CASES (rfc9989, DMARCEnforce yes), AUTH_7489_CASES (rfc7489),
# AUTH_NOENF_CASES (DMARCEnforce no), AUTH_TEMP_CASES and AUTH_TEMPNO_CASES
# (DNS failures with TempFailOnDNSError yes and no), all in tests/e2e/lib_auth.sh with the DNS data in
# tests/zones/auth.zone. Each case's messages are sent at once; then every
# case's outcome is checked: the final SMTP reply (swaks' transcript), where
# the message went (delivered, held, neither) and the dmarc= entry of our
# A-R header. Delivered and held header blocks are diffed against
# tests/e2e/test_dmarc.ref.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
e2e_init test_dmarc
auth_dmarc_conf rfc9989 yes
# no ARC: its results (arc=, trusted sealers) are tests/arc's business
e2e_conf_set ARCMode off
auth_start_all

# expect_dmarc CASE FILE WANT: our only A-R has a dmarc= entry starting
# with WANT (a literal).
expect_dmarc() {
	local ar n
	ar=$(e2e_our_ar "$2")
	n=$(printf '%s' "$ar" | grep -c .)
	if [ "$n" != 1 ]; then
		e2e_fail "$1: dmarc" "$n A-R headers of ours"
	elif grep -q -F -- "; $3" <<<"${ar//	/ }"; then
		e2e_ok "$1: dmarc"
	else
		e2e_fail "$1: dmarc" "no entry '$3' in: $ar"
	fi
}

# expect_not_held CASE: nothing for CASE@rcpt.test on the hold queue.
expect_not_held() {
	if auth_held_file "$1" >/dev/null; then
		e2e_fail "$1: not held" "on the hold queue: $(auth_held_file "$1")"
	else
		e2e_ok "$1: not held"
	fi
}

# check_case CASE FROM OUTCOME DMARC: one case's outcome, its swaks done.
check_case() {
	local c=$1 from=$2 out=$3 dm=$4 want
	auth_wait_swaks "$c"
	want=$(auth_want_reply "$out" "$from")
	case $out in
	deliver | sasl)
		e2e_swaks_wait "$c" || return
		e2e_wait_delivered "$c" || return
		if [ "$out" = sasl ]; then
			expect_header_match "$c: authenticated" "$E2E_FILE" \
			    '^Received: .* with ESMTPA id '
			expect_no_header_match "$c: not judged" "$E2E_FILE" \
			    "^Authentication-Results:[[:space:]]*${E2E_AUTHSERV//./\\.}([[:space:]]|;)"
		else
			expect_dmarc "$c" "$E2E_FILE" "$dm"
		fi
		expect_not_held "$c"
		e2e_ref_add "$c" "$E2E_FILE"
		;;
	hold)
		e2e_swaks_wait "$c" || return
		expect_held "$c" || return
		expect_dmarc "$c" "$AUTH_HELD" "$dm"
		e2e_ref_add "$c (held)" "$AUTH_HELD"
		HELD="$HELD $c"
		;;
	reject | multi | tempfail)
		expect_reply "$c" "$AUTH_REPLY" "$want"
		expect_not_held "$c"
		expect_not_delivered "$c"
		;;
	*)
		e2e_die "unknown outcome $out of $c" ;;
	esac
}

# run_table NAME TABLE: sends TABLE's messages at once, then checks each.
run_table() {
	local c ip mf from sigs out dm t0
	t0=$(date +%s.%N)
	auth_send_dmarc "$2"
	while read -r c ip mf from sigs out dm; do
		[ -n "$c" ] || continue
		check_case "$c" "$from" "$out" "$dm"
	done <<<"$2"
	echo "section $1: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
}

# expect_daemon_alive SECTION: the daemon survived the section (a zombie,
# state Z, has died: its parent, this shell, has not reaped it yet).
expect_daemon_alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$E2E_MILTER_PID/stat" 2>/dev/null)
	if [ -n "$st" ] && [ "$st" != Z ]; then
		e2e_ok "$1: daemon alive"
	else
		e2e_fail "$1: daemon alive" "authmilter (pid $E2E_MILTER_PID) died: $(grep -v '^20[0-9][0-9]-' "$E2E_DIR/authmilter.log" | tail -3)"
	fi
}

HELD=
run_table rfc9989-enforce "$AUTH_DMARC_CASES"
expect_daemon_alive rfc9989-enforce

auth_dmarc_conf rfc7489 yes
auth_restart_milter
run_table rfc7489-enforce "$AUTH_7489_CASES"
expect_daemon_alive rfc7489-enforce

auth_dmarc_conf rfc9989 no
auth_restart_milter
run_table rfc9989-monitor "$AUTH_NOENF_CASES"
expect_daemon_alive rfc9989-monitor

auth_dmarc_conf rfc9989 yes
auth_restart_milter
run_table rfc9989-dnsfail "$AUTH_TEMP_CASES"
expect_daemon_alive rfc9989-dnsfail

e2e_conf_set TempFailOnDNSError no
auth_restart_milter
run_table rfc9989-dnsfail-accept "$AUTH_TEMPNO_CASES"
expect_daemon_alive rfc9989-dnsfail-accept

# held messages stay held: none was delivered while the rest ran
for c in $HELD; do
	expect_not_delivered "$c"
done

e2e_ref_check test_dmarc
e2e_finish
